-- Approves the plan the operator published: sets ops.pitrix.io/approve-plan to status.plan.hash
-- (exactly what `kubectl pitrix approve` does). A plan that changes gets a new hash, so this never
-- approves a plan nobody was shown.
if obj.status == nil or obj.status.plan == nil or obj.status.plan.hash == nil or obj.status.plan.hash == "" then
  error("no published plan to approve: status.plan.hash is empty", 0)
end
if obj.metadata.annotations == nil then obj.metadata.annotations = {} end
obj.metadata.annotations["ops.pitrix.io/approve-plan"] = obj.status.plan.hash
return obj

-- Argo CD health of an ops.pitrix.io resource (Zone, NodePool, Component, TagServer,
-- WebserviceUpgrade), from the conditions the operator writes (docs/api.md):
--   Suspended   spec.paused with work left, or a published plan awaiting approval
--   Degraded    Stalled=True (a failed or interrupted step, a refused spec, a missing Secret…)
--   Progressing the operator has not reported on this generation, or Reconciling=True
--   Healthy     Ready=True for this generation
-- Without Reconciling/Stalled (an operator older than kstatus support) it reads Degraded and
-- Progressing the same way; anything it cannot place is Progressing, never Healthy.
local hs = {}
local gen = obj.metadata.generation
local function cond(t)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == t and (gen == nil or c.observedGeneration == nil or c.observedGeneration >= gen) then
        return c
      end
    end
  end
  return nil
end
local function is(c, status) return c ~= nil and c.status == status end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end
if gen ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration ~= gen then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. gen
  return hs
end
local ready, progressing = cond("Ready"), cond("Progressing")
local stalled, reconciling, degraded = cond("Stalled"), cond("Reconciling"), cond("Degraded")
if is(stalled, "True") then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. stalled.message
  return hs
end
if stalled == nil and is(degraded, "True") and not is(progressing, "True") then
  hs.status = "Degraded"
  hs.message = degraded.reason .. ": " .. degraded.message
  return hs
end
if is(progressing, "False") and (progressing.reason == "Paused" or progressing.reason == "AwaitingApproval") then
  hs.status = "Suspended"
  hs.message = progressing.reason .. ": " .. progressing.message
  return hs
end
if is(reconciling, "True") then
  hs.status = "Progressing"
  hs.message = reconciling.reason .. ": " .. reconciling.message
  return hs
end
if is(ready, "True") then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
if ready ~= nil then
  hs.message = ready.reason .. ": " .. ready.message
else
  hs.message = "Waiting for the Ready condition"
end
return hs

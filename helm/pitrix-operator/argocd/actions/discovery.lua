-- Resource actions of ops.pitrix.io resources: approve the published plan, pause, resume.
local actions = {}
local hash = nil
if obj.status ~= nil and obj.status.plan ~= nil then hash = obj.status.plan.hash end
local approved = nil
if obj.metadata.annotations ~= nil then approved = obj.metadata.annotations["ops.pitrix.io/approve-plan"] end
local paused = obj.spec ~= nil and obj.spec.paused == true
actions["approve"] = {["disabled"] = hash == nil or hash == "" or approved == hash}
actions["pause"] = {["disabled"] = paused}
actions["resume"] = {["disabled"] = not paused}
return actions

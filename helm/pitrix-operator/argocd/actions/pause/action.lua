-- Pauses: the operator finishes the running step, then starts no other (spec.paused).
if obj.spec == nil then obj.spec = {} end
obj.spec.paused = true
return obj

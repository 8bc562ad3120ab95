-- wrk script: each connection waits a random 0..2*PACE_MS (default 10) ms after every answer before its
-- next request: a steady load well below saturation, spread out rather than in bursts, so latency is
-- the service's own and not the queue's.
local pace = tonumber(os.getenv("PACE_MS") or "10")
math.randomseed(7)
delay = function()
  return math.random(0, 2 * pace)
end

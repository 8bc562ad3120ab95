-- wrk script: GET /?world_size=N with N spread over five orders of magnitude (the histogram path).
math.randomseed(42)
request = function()
  return wrk.format("GET", "/?world_size=" .. math.floor(10 ^ (math.random() * 5)))
end

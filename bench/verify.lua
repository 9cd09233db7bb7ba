-- wrk script: POST /api/v1/verify with distinct valid cards, round-robin.
-- Reads the cards (one QR text a line) from $CARDS and the desk token from $TOKEN.
local cards = {}
for line in io.lines(os.getenv("CARDS")) do
  cards[#cards + 1] = '{"qr":"' .. line .. '"}'
end
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
}
local i = 0

request = function()
  i = i + 1
  return wrk.format("POST", "/api/v1/verify", headers, cards[(i % #cards) + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout))
end

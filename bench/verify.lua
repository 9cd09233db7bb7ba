-- wrk script: POST /api/v1/verify with distinct valid cards.
-- Reads the cards (one QR text a line) from $CARDS and the desk token from $TOKEN.
-- $MODE (default cold):
--   cold  every scan a card not scanned before (in file order; the script reports how many
--         scans had to repeat a card because the file ran out: keep it at 0);
--   warm  each card scanned four times, in the order a hospital visit makes: a block of 64
--         patients registers, then the same patients pay, are examined and take their medicine,
--         then the next block.
local cards = {}
for line in io.lines(os.getenv("CARDS")) do
  cards[#cards + 1] = '{"qr":"' .. line .. '"}'
end
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
}
local mode = os.getenv("MODE") or "cold"
local offset = tonumber(os.getenv("OFFSET") or "0")
local block, visits = 64, 4
local i = 0

local function card_of(n)
  if mode == "warm" then
    local per_block = block * visits
    local b = math.floor(n / per_block)
    return b * block + (n % per_block) % block
  end
  return n
end

request = function()
  local k = card_of(i) + offset
  i = i + 1
  return wrk.format("POST", "/api/v1/verify", headers, cards[(k % #cards) + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  local distinct = card_of(summary.requests) + 1
  local repeats = 0
  if mode == "cold" and summary.requests > #cards - offset then
    repeats = summary.requests - (#cards - offset)
  end
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d repeats=%d distinct=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout, repeats, distinct))
end

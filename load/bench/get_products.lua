-- wrk: GET /products?limit=100 (the first page, as a listing client asks for it).
local token = os.getenv("BENCH_TOKEN")

function request()
  return wrk.format("GET", "/products?limit=100", {["Authorization"] = "Bearer " .. token})
end

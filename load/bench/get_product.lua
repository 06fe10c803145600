-- wrk: GET /products/{id} on a random product.
local products = {}
local token = os.getenv("BENCH_TOKEN")

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  for line in io.lines(os.getenv("BENCH_PRODUCTS")) do products[#products + 1] = line end
end

function request()
  return wrk.format("GET", "/products/" .. products[math.random(#products)],
    {["Authorization"] = "Bearer " .. token})
end

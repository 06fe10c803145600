-- wrk: POST /transactions, a withdrawal of 1 with a fresh id, on a random product the vendor may handle.
-- Products come from products.txt (one id per line), the token and vendor from the environment.
local products = {}
local token = os.getenv("BENCH_TOKEN")
local vendor = os.getenv("BENCH_VENDOR")

local function load_products()
  for line in io.lines(os.getenv("BENCH_PRODUCTS")) do products[#products + 1] = line end
end

local function uuid4()
  local template = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (template:gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  load_products()
end

function request()
  local body = string.format(
    '{"id":"%s","product_id":"%s","vendor_id":"%s","action":"withdrawal","quantity":1}',
    uuid4(), products[math.random(#products)], vendor)
  return wrk.format("POST", "/transactions",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

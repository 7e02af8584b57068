-- soap-load.lua - wrk script: POSTs our example kennisgeving with a new
-- referentienummer per request, spread over 1000 zaken, so every request
-- is a real new message (one LMDB write transaction each).
local file = io.open(os.getenv("STUFLZ_EXAMPLE") or
                     "t/data/zakLk01-voorbeeld.xml", "rb")
local example = file:read("*a")
file:close()

local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] =
    '"http://www.egem.nl/StUF/sector/zkn/0310/zakLk01"'

-- Each thread gets its own id (a global in its own Lua state), so no two
-- requests share a referentienummer.
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("thread_id", os.time() .. "t" .. threads)
end

request = function()
    counter = counter + 1
    local body = example:gsub("vb%-2024%-0001%-status%-2",
                              "load-" .. thread_id .. "-" .. counter)
    body = body:gsub(">0363VB20240001<",
                     ">0363LOAD" .. (counter % 1000) .. "<")
    return wrk.format(nil, nil, nil, body)
end

local non_200 = 0
response = function(status, headers, body)
    if status ~= 200 then
        non_200 = non_200 + 1
    end
end

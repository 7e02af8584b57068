-- ebms-load.lua - wrk script: POSTs a zakLk01 as an ebMS user message on
-- the example CPA's synchronous channel, each request with its own
-- MessageId and referentienummer, so every request is a new message that
-- gets an Acknowledgment in the HTTP answer (one LMDB transaction each).
-- The template comes from bench/ebms-template.pl.
local file = io.open(os.getenv("STUFLZ_EBMS_TEMPLATE") or
                     "build/ebms-template.txt", "rb")
local content_type = file:read("*l")
local template = file:read("*a")
file:close()

local counter = 0
local threads = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = content_type
wrk.headers["SOAPAction"] = '"ebXML"'

function setup(thread)
    threads = threads + 1
    thread:set("thread_id", os.time() .. "t" .. threads)
end

request = function()
    counter = counter + 1
    local id = "load-" .. thread_id .. "-" .. counter
    local body = template:gsub("MSGIDPLACEHOLDER", id)
    body = body:gsub("REFPLACEHOLDER", id)
    body = body:gsub("ZAAKPLACEHOLDER", "0363EBMS" .. (counter % 1000))
    return wrk.format(nil, nil, nil, body)
end

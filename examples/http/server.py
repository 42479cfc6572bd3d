# A tiny metric and evaluate service: the stage's JSON arrives as the request
# body; the response body is the stage's result.
import json
import math
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        spec = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/metric":
            # Requests per second, here from the target's annotation.
            annotations = spec["resource"]["metadata"].get("annotations") or {}
            body = annotations.get("example.com/rps", "0")
        elif self.path == "/evaluate":
            rps = float(spec["metrics"][0].get("value", "0"))
            body = json.dumps({"targetReplicas": math.ceil(rps / 100)})
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())


HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Handler).serve_forever()

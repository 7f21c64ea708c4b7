#!/usr/bin/env python3
"""An application backend of the anycast lab (scripts/lab): a small HTTP
server (python3 stdlib only) that answers which region and instance served
the request.

  GET /          -> "region=A instance=1 addr=198.18.1.11 peer=198.18.1.3:40001"
  GET /slow?s=N  -> the same line, after N seconds (drain tests; N <= 120)
  GET /healthz   -> "ok" (for HTTP health probes)

Usage: lab-backend.py REGION INSTANCE ADDR PORT
"""
import http.server
import socketserver
import sys
import time
import urllib.parse


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    region, instance, addr, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/healthz":
                body = "ok\n"
            else:
                if url.path == "/slow":
                    q = urllib.parse.parse_qs(url.query)
                    try:
                        secs = min(max(float(q.get("s", ["1"])[0]), 0.0), 120.0)
                    except ValueError:
                        secs = 1.0
                    time.sleep(secs)
                body = "region=%s instance=%s addr=%s peer=%s:%d\n" % (
                    region, instance, addr, self.client_address[0], self.client_address[1])
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

    Server((addr, port), Handler).serve_forever()


if __name__ == "__main__":
    main()

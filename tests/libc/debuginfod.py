#!/usr/bin/env python3
"""debuginfod.py - the fake debuginfod server of libc.sh, one for its cases.

    debuginfod.py [--silent] [--debuginfo FILE] [--buildid ID] [--delay S] [--touch PATH]

Listens on a free port of 127.0.0.1 and prints "listening PORT" once it does.
  --silent       accept each connection and never answer (a server that hangs)
  --debuginfo    answer GET /buildid/ID/debuginfo with FILE's bytes, 404 else;
                 without --buildid, any build id's /debuginfo
  --delay S      wait S seconds before each answer
  --touch PATH   create PATH when a client connects (silent) or asks (else)
"""
import argparse
import http.server
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--silent", action="store_true")
ap.add_argument("--debuginfo")
ap.add_argument("--buildid")
ap.add_argument("--delay", type=float, default=0)
ap.add_argument("--touch")
opt = ap.parse_args()
debug = open(opt.debuginfo, "rb").read() if opt.debuginfo else b""


def touch():
    if opt.touch:
        open(opt.touch, "a").close()


class Handler(http.server.BaseHTTPRequestHandler):
    def handle(self):
        if not opt.silent:
            return super().handle()
        touch()                          # accepted; the connection stays open
        threading.Event().wait()

    def wanted(self):
        if not self.path.endswith("/debuginfo") or not opt.debuginfo:
            return False
        return opt.buildid is None or self.path == "/buildid/%s/debuginfo" % opt.buildid

    def do_GET(self):
        touch()
        time.sleep(opt.delay)
        body = debug if self.wanted() else b""
        self.send_response(200 if self.wanted() else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 64              # the listen backlog


srv = Server(("127.0.0.1", 0), Handler)
print("listening", srv.server_address[1], flush=True)
srv.serve_forever()

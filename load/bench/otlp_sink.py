"""OTLP endpoints that accept everything and keep nothing: HTTP (any path) and gRPC (any method).

The bench's exporters (the API's, or the collector's towards Tempo, Loki and Prometheus) pay the
full cost of sending, while nothing downstream competes for the same two cores.

    python otlp_sink.py HTTP_PORT [GRPC_PORT]
"""

from __future__ import annotations

import sys
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def grpc_sink(port: int) -> object:
    """Every unary call answered with an empty message (an empty ExportResponse), never decoded."""
    import grpc

    class Anything(grpc.GenericRpcHandler):
        def service(self, handler_call_details: object) -> grpc.RpcMethodHandler[bytes, bytes]:
            return grpc.unary_unary_rpc_method_handler(lambda request, context: b"")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[Anything()])
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server


if __name__ == "__main__":
    if len(sys.argv) > 2:
        running = grpc_sink(int(sys.argv[2]))
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()

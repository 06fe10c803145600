"""OTLP endpoints that accept everything and keep nothing: HTTP (any path) and gRPC (any method).

The bench's exporters (the API's, or the collector's towards Tempo, Loki and Prometheus) pay the
full cost of sending, while nothing downstream competes for the same two cores.

    python otlp_sink.py HTTP_PORT [GRPC_PORT [ADDRESS [DELAY_SECONDS]]]

With DELAY_SECONDS, every gRPC call is answered that late: a gateway that has become slow.
"""

from __future__ import annotations

import sys
import time
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


def grpc_sink(port: int, address: str = "127.0.0.1", delay: float = 0.0) -> object:
    """Every unary call answered with an empty message (an empty ExportResponse), never decoded."""
    import grpc

    def answer(request: bytes, context: object) -> bytes:
        if delay:
            time.sleep(delay)
        return b""

    class Anything(grpc.GenericRpcHandler):
        def service(self, handler_call_details: object) -> grpc.RpcMethodHandler[bytes, bytes]:
            return grpc.unary_unary_rpc_method_handler(answer)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), handlers=[Anything()])
    server.add_insecure_port(f"{address}:{port}")
    server.start()
    return server


if __name__ == "__main__":
    address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    if len(sys.argv) > 2:
        running = grpc_sink(int(sys.argv[2]), address, float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
    ThreadingHTTPServer((address, int(sys.argv[1])), Sink).serve_forever()

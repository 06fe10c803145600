"""What the tests and the benchmarks share to run the project's programs; the service never imports it."""

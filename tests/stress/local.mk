# tests/stress tests

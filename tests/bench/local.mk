# tests/bench tests

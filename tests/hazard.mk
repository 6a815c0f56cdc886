# tests tests

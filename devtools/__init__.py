"""Development tools around the stack, not part of it: the terminal clients (`make chat`), the fake model
server for tests and benchmarks, and the chaos runner (`make chaos`). `devstack/` is the Supabase
emulator only."""

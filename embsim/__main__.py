from embsim.explorer.cli import run

run()

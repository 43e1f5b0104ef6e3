from embsim.cli import run

run()

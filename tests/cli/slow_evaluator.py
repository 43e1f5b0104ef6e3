"""An evaluator that starts a child process (as PuLP starts CBC) and waits for it: for the kill tests."""
import os
import subprocess
import sys


def evaluate(config):
    """Write this worker's pid and its child's pid to PIDS_DIR, then wait on a long-running child."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    d = os.environ["PIDS_DIR"]
    with open(os.path.join(d, f"{os.getpid()}-{child.pid}"), "w") as f:
        f.write("")
    child.wait()
    return {"throughput_qps": 1.0}

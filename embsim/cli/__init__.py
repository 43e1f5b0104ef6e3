"""The ``embsim`` command line.

Each command group lives in its own module here and is imported only when
used, so ``embsim hw list`` does not pay for pandas or dask.  The error
contract (DESIGN.md): bad input exits 2 with one line ``error: ...`` on
stderr and no output file; a bug exits 1 with its traceback.  An interrupted
command (SIGINT, SIGTERM) removes its temporary files, ends the processes it
started and exits 130 (SIGINT) or 143 (SIGTERM).
"""
import importlib
import signal
import sys
import threading

import click

from .. import __version__
from ..errors import InputError
from ..fileio import UNWRITABLE_ERRNOS, inputs_of_command

# command name -> (module, attribute, one-line help)
COMMANDS = {
    "trace": ("trace", "trace", "Generate, import, fit and inspect embedding access traces."),
    "replay": ("replay", "replay", "Replay a trace through a cache and count hits and misses."),
    "hw": ("hw", "hw", "List and show hardware presets."),
    "calibrate": ("hw", "calibrate", "Measure this host and write a cpu_dram preset for it."),
    "shard": ("shard", "shard", "Solve a sharding plan for a model on a system."),
    "plan": ("plan", "plan", "Export plans as TorchRec constraints; import TorchRec plans."),
    "simulate": ("simulate", "simulate", "Simulate queries through a system and report throughput, latency, energy."),
    "colocate": ("colocate", "colocate", "Size a fleet of models on one server type, with co-location."),
    "explore": ("explore", "explore", "Sweep a design space into a SQLite result store."),
    "report": ("explore", "report", "Write a self-contained HTML design report."),
    "demo": ("demo", "demo", "Run the headline experiment and write its report."),
    "reproduce": ("reproduce", "reproduce", "Re-run the published headline experiments: ratio, drivers, sensitivity."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use.

    ``table`` maps a command name to (module in this package, attribute, one-line help).
    """

    table = COMMANDS

    def list_commands(self, ctx):
        return list(self.table)

    def get_command(self, ctx, name):
        if name not in self.table:
            return None
        module, attr, _ = self.table[name]
        mod = importlib.import_module(f"{__name__}.{module}")
        return getattr(mod, attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_) for name, (_, _, help_) in self.table.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="embsim")
def cli():
    """embsim: where should a recommendation model's embedding tables live, and what does it cost?"""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that ``finally`` blocks (temporary files) run."""


def _raise_terminated(signum, frame):
    raise Terminated()


def end_children():
    """End every process this one started (pool workers, solver subprocesses), children first."""
    try:
        import psutil
    except ImportError:      # psutil comes with dask; without it the workers' own parent check ends them
        return
    try:
        kids = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for k in reversed(kids):
        try:
            k.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(kids, timeout=5)


def main(argv=None):
    """Entry point: run the CLI with the exit-code contract."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        with inputs_of_command():
            return _main(argv)
    except Terminated:
        end_children()
        click.echo("error: terminated (SIGTERM); finished outputs are kept, temporary files removed", err=True)
        return 143
    except (KeyboardInterrupt, click.exceptions.Abort):
        end_children()
        click.echo("error: interrupted; finished outputs are kept, temporary files removed", err=True)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _main(argv):
    try:
        rv = cli.main(args=argv, prog_name="embsim", standalone_mode=False)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except click.exceptions.NoSuchOption as e:
        hint = f"; did you mean {e.possibilities[0]}?" if e.possibilities else ""
        click.echo(f"error: {e.format_message().rstrip('?.')}{hint} (see --help)", err=True)
        return 2
    except click.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "embsim"
        click.echo(f"error: {e.format_message()} (see '{cmd} --help')", err=True)
        return 2
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:
        # the environment refuses a file (read-only folder, disk full, name too long): the user fixes that
        if e.errno not in UNWRITABLE_ERRNOS or not e.filename:
            raise
        click.echo(f"error: {e.filename}: {e.strerror}", err=True)
        return 2
    except MemoryError:
        click.echo("error: out of memory: an input asks for more than this machine holds "
                   "(reduce a size such as --queries, --batches, rows or a count)", err=True)
        return 2
    return rv if isinstance(rv, int) else 0


def run():
    sys.exit(main())


force_option = click.option("--force", is_flag=True, help="Replace the output file if it exists.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")

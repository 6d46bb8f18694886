"""The ``survrad`` command (layer 7).

Exit codes: 0 success; 2 bad input, bad configuration or an output folder that may not be
written (the message names the file, key or column and rows); 130 interrupted (Ctrl-C);
143 stopped by SIGTERM; 1 a bug (the traceback is printed). A run that had started leaves
``<out>.failed-<time>`` with what it computed and ``error.json``; its path is printed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Survival modelling of multi-lesion radiomics: check data, simulate, run studies.",
)

log = logging.getLogger("survrad")


class _Stopped(Exception):
    """A command interrupted by Ctrl-C or SIGTERM, carried past Typer (which would turn the
    KeyboardInterrupt into a bare exit code and lose SIGTERM's 143 and the failed folder)."""

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__(str(interrupt))
        self.exit_code = int(getattr(interrupt, "exit_code", 130))
        self.failed_folder = getattr(interrupt, "failed_folder", None)


def _interruptible(command: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise _Stopped(exc) from exc
    return run


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"survrad {version('survrad')}")
        raise typer.Exit()


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Show every step (debug messages).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Only errors and the final line.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Options for every command."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    log.setLevel(level)


class Backend(StrEnum):
    loky = "loky"
    dask = "dask"


@app.command()
@_interruptible
def simulate(
    out: Annotated[Path, typer.Option(help="Output folder (patients, lesions, truth CSVs).")],
    n_patients: Annotated[int, typer.Option(help="Number of patients (at least 2).")] = 300,
    random_state: Annotated[int, typer.Option(help="Seed; same seed, same tables.")] = 0,
    timepoints: Annotated[int, typer.Option(help="Lesion timepoints (1 or 2).")] = 1,
    force: Annotated[bool, typer.Option(
        help="Replace an existing folder that survrad wrote (and nobody changed).")] = False,
) -> None:
    """Write a simulated cohort with known truth as CSV files."""
    from survrad._outputs import atomic_write_text, check_target, output_folder
    from survrad.data.simulate import simulate_cohort

    check_target(out, force=force)   # before any work: a long simulation is never wasted
    cohort = simulate_cohort(n_patients=n_patients, random_state=random_state,
                             timepoints=timepoints)
    with output_folder(out, force=force, kind="simulation",
                       command=" ".join(["survrad", *sys.argv[1:]])) as folder:
        tmp = folder.path
        atomic_write_text(tmp / "patients.csv", cohort.patients.reset_index().to_csv(index=False))
        atomic_write_text(tmp / "lesions.csv", cohort.lesions.to_csv(index=False))
        for key, table in sorted(cohort.truth.items()):
            keep_index = table.index.name is not None or key == "coef"
            atomic_write_text(tmp / f"truth_{key}.csv", table.to_csv(index=keep_index))
    typer.echo(f"wrote {cohort!r} to {folder.target}")


@app.command()
@_interruptible
def check(
    patients: Annotated[Path | None, typer.Option(help="Patient table (CSV or Parquet).")] = None,
    lesions: Annotated[Path | None, typer.Option(help="Lesion table (CSV or Parquet).")] = None,
    study: Annotated[Path | None, typer.Option(
        help="Study file (TOML): check the whole study (settings, then its data) as "
             "`survrad run` would, without computing.")] = None,
    lesion_features: Annotated[
        list[str] | None, typer.Option(help="Lesion feature names or globs (repeatable; "
                                            "default: every non-role lesion column).")
    ] = None,
    patient_features: Annotated[
        list[str] | None, typer.Option(help="Patient predictor names or globs (repeatable).")
    ] = None,
    id_col: Annotated[str | None, typer.Option(
        help="Patient id column (default patient_id).")] = None,
    time_col: Annotated[str | None, typer.Option(
        help="Survival time column of the 'os' endpoint (default os_time).")] = None,
    event_col: Annotated[str | None, typer.Option(
        help="Event column of the 'os' endpoint (default os_event).")] = None,
    event_map: Annotated[str | None, typer.Option(
        help="Recode the event column, e.g. '1=0,2=1' (R's 1=censored, 2=dead) or "
             "'alive=0,dead=1'.")] = None,
    strict: Annotated[bool, typer.Option(help="Turn data warnings into errors.")] = False,
) -> None:
    """Validate a patient (and lesion) table, or a whole study, and print a summary.

    Without --lesion-features every lesion column that is not a role column (ids,
    timepoint, organ, volume, diameters, target flag, irradiation, dose, lesion outcomes)
    is checked as a radiomic feature. Patient columns are checked as features only when
    named with --patient-features; the summary lists the patient columns that were not.
    """
    from survrad.data.summary import describe_cohort, unchecked_columns
    from survrad.exceptions import ConfigError

    table_options = (patients, lesions, lesion_features, patient_features, id_col, time_col,
                     event_col, event_map)
    if study is not None:
        if any(v for v in table_options):
            raise ConfigError("give one of --study STUDY.toml or --patients P.csv (with its "
                              "options), not both: a study names its own tables, columns "
                              "and features.")
        cohort = _check_study(study, strict)
        typer.echo(f"study: {study}: settings and data pass every check")
    elif patients is None:
        raise ConfigError("give the data to check: --patients P.csv [--lesions L.csv], or "
                          "--study STUDY.toml.")
    else:
        cohort = _check_tables(patients, lesions, patient_features, lesion_features, strict,
                               id_col=id_col, time_col=time_col, event_col=event_col,
                               event_map=_parse_event_map(event_map))
    typer.echo(describe_cohort(cohort))
    if study is None and unchecked_columns(cohort)["patients"]:
        typer.echo("note: patient columns are checked as features only when named: pass "
                   "--patient-features NAME_OR_GLOB (repeatable) to validate predictors.")


def _parse_event_map(text: str | None) -> dict | None:
    """'1=0,2=1' -> {1: 0, 2: 1}; 'dead=1,alive=0' -> {'dead': 1, 'alive': 0}."""
    from survrad.exceptions import ConfigError

    if text is None:
        return None
    out: dict = {}
    for part in text.split(","):
        raw, sep, value = part.partition("=")
        if not sep or value.strip() not in ("0", "1"):
            raise ConfigError(f"--event-map takes pairs VALUE=0 or VALUE=1 separated by "
                              f"commas, e.g. '1=0,2=1'; got {text!r}.", key="--event-map")
        key: object = raw.strip()
        with contextlib.suppress(ValueError):
            key = float(raw) if "." in raw else int(raw)
        out[key] = int(value)
    return out


def _check_tables(patients: Path, lesions: Path | None, patient_features: list[str] | None,
                  lesion_features: list[str] | None, strict: bool, *, id_col: str | None,
                  time_col: str | None, event_col: str | None, event_map: dict | None):
    """read_cohort on the tables; lesion features default to every non-role column."""
    from survrad.data.io import candidate_lesion_features, read_cohort
    from survrad.exceptions import ConfigError, SchemaError

    columns = {"patient_id": id_col} if id_col else None
    endpoints = None
    if time_col or event_col:
        if not (time_col and event_col):
            raise ConfigError("give both --time-col and --event-col (the survival endpoint's "
                              "two columns).", key="--time-col")
        endpoints = {"os": (time_col, event_col)}
    implied: list[str] = []
    if lesions is not None and not lesion_features:
        implied = candidate_lesion_features(lesions, columns=columns)
    try:
        return read_cohort(patients=patients, lesions=lesions,
                           patient_features=patient_features,
                           lesion_features=lesion_features or implied or None,
                           endpoints=endpoints, columns=columns,
                           event_map=event_map, strict=strict)
    except SchemaError as exc:
        if exc.column not in implied:
            raise
        note = SchemaError(f"{exc} (Without --lesion-features, every lesion column that is "
                           "not an id, organ, size, irradiation, dose or lesion outcome is "
                           "checked as a radiomic feature; name the features, e.g. "
                           "--lesion-features 'rad_*', to check only those.)")
        note.file, note.column, note.ids, note.values = exc.file, exc.column, exc.ids, exc.values
        raise note from exc


def _check_study(study: Path, strict: bool):
    """The cohort of a study, after every check ``survrad run`` makes before computing."""
    import warnings

    from survrad.exceptions import SchemaError, SurvradWarning
    from survrad.study import load_study

    if not strict:
        return load_study(study).cohort
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurvradWarning)
        try:
            return load_study(study).cohort
        except SurvradWarning as w:
            raise SchemaError(f"strict mode: {w} ({type(w).__name__} turned into an "
                              "error by --strict).") from w


@app.command()
@_interruptible
def run(
    study: Annotated[Path | None, typer.Argument(help="Study file (TOML).")] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder (a new folder).")] = None,
    demo: Annotated[bool, typer.Option(help="Run the built-in demo study.")] = False,
    force: Annotated[bool, typer.Option(
        help="Replace an existing report folder that survrad wrote (and nobody changed); "
             "never a folder holding the inputs.")] = False,
    n_jobs: Annotated[int | None, typer.Option(
        help="Local worker processes (-1: every core).")] = None,
    backend: Annotated[Backend | None, typer.Option(
        help="'dask' to use a Dask cluster.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://host:8786).")] = None,
) -> None:
    """Run a study (or --demo) and write a reproducible report folder."""
    from survrad.exceptions import ConfigError
    from survrad.study import run_study

    if (study is None) == (not demo):
        raise ConfigError("give exactly one of a STUDY file or --demo.")
    if out is None:
        raise ConfigError("--out DIR is required (the report folder).", key="--out")
    folder = run_study(None if demo else study, out, force=force, n_jobs=n_jobs,
                       backend=backend.value if backend is not None else None,
                       scheduler=scheduler, progress=sys.stderr.isatty(),
                       command=["survrad", *sys.argv[1:]])
    typer.echo(f"report written to {folder} (open {folder / 'index.html'})")


@app.command()
@_interruptible
def report(
    results: Annotated[Path, typer.Argument(
        help="A report folder (or its results/ subfolder) whose saved results to render.")],
    out: Annotated[Path, typer.Option(help="The new report folder.")],
    force: Annotated[bool, typer.Option(
        help="Replace an existing report folder that survrad wrote (and nobody changed).")
    ] = False,
    n_jobs: Annotated[int | None, typer.Option(help="Figures drawn at a time.")] = None,
) -> None:
    """Render a report again from saved results, without computing anything."""
    from survrad.study.run import render_saved_report

    folder = render_saved_report(results, out, force=force, n_jobs=n_jobs,
                                 command=["survrad", *sys.argv[1:]])
    typer.echo(f"report written to {folder} (open {folder / 'index.html'})")


@app.command()
@_interruptible
def fit(
    study: Annotated[Path, typer.Argument(help="Study file (TOML).")],
    out: Annotated[Path, typer.Option(
        help="A new folder; the fitted pipelines are saved into OUT/model/.")],
    force: Annotated[bool, typer.Option(
        help="Replace an existing folder that survrad wrote (and nobody changed); never a "
             "folder holding the inputs.")] = False,
) -> None:
    """Fit a study's pipelines on the whole cohort and save them for `survrad predict`."""
    from survrad.fit import INDEX_FILE, MODEL_FOLDER, fit_command

    folder = fit_command(study, out, force=force, command=["survrad", *sys.argv[1:]])
    typer.echo(f"models saved in {folder / MODEL_FOLDER} (which is which: "
               f"{folder / MODEL_FOLDER / INDEX_FILE})")


@app.command()
@_interruptible
def predict(
    model: Annotated[Path, typer.Argument(
        help="A saved model folder, or the model/ folder written by `survrad fit` "
             "(choose with --pipeline).")],
    patients: Annotated[Path, typer.Option(help="The new patients (CSV or Parquet).")],
    out: Annotated[Path, typer.Option(help="The predictions CSV to write.")],
    lesions: Annotated[Path | None, typer.Option(
        help="Their lesions (CSV or Parquet), for a lesion strategy.")] = None,
    pipeline: Annotated[str | None, typer.Option(
        help="The pipeline of a model/ folder, <endpoint>_<strategy>_<model> (listed in "
             "its index.json).")] = None,
    expected_sha256: Annotated[str | None, typer.Option(
        help="SHA-256 of the model's pipeline.pkl from a trusted source: nothing is "
             "unpickled unless it matches.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Score new patients with a saved model: risk, survival at the study horizons."""
    from survrad.predict import predict_command

    written = predict_command(model, patients, lesions, out, force=force,
                              expected_sha256=expected_sha256, pipeline=pipeline)
    typer.echo("wrote " + ", ".join(str(p) for p in written))
class Failed(StrEnum):
    raise_ = "raise"
    exclude = "exclude"


@app.command()
@_interruptible
def extract(
    images: Annotated[Path, typer.Option(
        help="Images manifest (CSV): patient_id, image, mask (paths relative to the "
             "manifest), optionally timepoint; one multi-label mask per case.")],
    out: Annotated[Path, typer.Option(
        help="The lesion table to write (CSV); its diagnostics and manifest are written "
             "beside it.")],
    params: Annotated[Path | None, typer.Option(
        help="PyRadiomics parameter file (YAML or JSON); default PyRadiomics' own "
             "defaults.")] = None,
    n_jobs: Annotated[int | None, typer.Option(
        help="Worker processes (-1: every core); the tables do not depend on it.")] = 1,
    connected_components: Annotated[bool, typer.Option(
        help="One lesion per connected component of each label.")] = False,
    failed: Annotated[Failed, typer.Option(
        help="'exclude': leave failed extractions out (listed in the manifest) instead of "
             "stopping.")] = Failed.raise_,
    force: Annotated[bool, typer.Option(
        help="Replace existing outputs and ignore the journal of an interrupted run.")
    ] = False,
) -> None:
    """Extract PyRadiomics features of every lesion (label) of every image; resumable."""
    from survrad.extract import extract_command

    result = extract_command(images, params, out, n_jobs=n_jobs,
                             connected_components=connected_components, force=force,
                             failed=failed.value)
    resumed = f" ({result.n_resumed} resumed from an interrupted run)" \
        if result.n_resumed else ""
    typer.echo(f"wrote {len(result.table.lesions)} lesions of {result.n_cases} cases"
               f"{resumed} to {result.paths['lesions']} (diagnostics "
               f"{result.paths['diagnostics'].name}, manifest "
               f"{result.paths['manifest'].name})")


# ------------------------------------------------------------------------ main
@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM raises :class:`~survrad.exceptions.Terminated` (a KeyboardInterrupt), so a
    terminated run stops its workers and leaves its ``.failed-<time>`` folder."""
    from survrad.exceptions import Terminated

    def stop(signum: int, frame: object) -> None:
        raise Terminated("stopped by SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _console() -> Iterator[None]:
    """Stage lines of the ``survrad`` logger on stderr while a command runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("survrad: %(message)s"))
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command and map exceptions to exit codes (0/2/130/143/1)."""
    from survrad._spelling import interface

    with _signals(), _console(), interface("cli"):
        try:
            code = app(args=argv, standalone_mode=False, prog_name="survrad")
        except typer.Exit as exc:
            return int(exc.exit_code or 0)
        except (_Stopped, KeyboardInterrupt) as exc:
            return _interrupted(exc)
        except typer.TyperException as exc:  # usage errors: missing or bad options
            exc.show()
            return int(getattr(exc, "exit_code", 2) or 2)
        except Exception as exc:
            if _is_input_error(exc):
                typer.echo(f"error: {exc}", err=True)
                _where(exc)
                return 2
            traceback.print_exc()  # a bug: show everything
            _where(exc)
            return 1
    return code if isinstance(code, int) else 0   # Typer returns exit codes it made


def _interrupted(exc: BaseException) -> int:
    code = int(getattr(exc, "exit_code", 130))
    if code not in (130, 143):
        code = 130
    typer.echo("interrupted" if code == 130 else "stopped (SIGTERM)", err=True)
    _where(exc)
    return code


def _where(exc: BaseException) -> None:
    failed = getattr(exc, "failed_folder", None)
    if failed:
        typer.echo(f"what was computed, and error.json, are in {failed}", err=True)


def _is_input_error(exc: BaseException) -> bool:
    from survrad._outputs import is_user_os_error
    from survrad.exceptions import ConfigError, FitError, ResamplingError, SchemaError

    return isinstance(exc, SchemaError | ConfigError | FitError | ResamplingError
                      | FileNotFoundError) or is_user_os_error(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

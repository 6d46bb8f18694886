"""The ``survrad`` command (layer 7).

Exit codes: 0 success; 2 bad input or configuration (the message names the file, column
and rows); 1 a bug (the traceback is printed).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Survival modelling of multi-lesion radiomics: check data, simulate, run studies.",
)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Output folder (patients, lesions, truth CSVs).")],
    n_patients: Annotated[int, typer.Option(help="Number of patients (at least 2).")] = 300,
    random_state: Annotated[int, typer.Option(help="Seed; same seed, same tables.")] = 0,
    timepoints: Annotated[int, typer.Option(help="Lesion timepoints (1 or 2).")] = 1,
    force: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
) -> None:
    """Write a simulated cohort with known truth as CSV files."""
    from survrad.data.simulate import simulate_cohort
    from survrad.reporting.writer import atomic_output_dir, atomic_write_text

    _refuse_existing(out, force)  # before any work: a long simulation is never wasted
    cohort = simulate_cohort(n_patients=n_patients, random_state=random_state,
                             timepoints=timepoints)
    with atomic_output_dir(out, force=force) as tmp:
        atomic_write_text(tmp / "patients.csv", cohort.patients.reset_index().to_csv(index=False))
        atomic_write_text(tmp / "lesions.csv", cohort.lesions.to_csv(index=False))
        for key, table in sorted(cohort.truth.items()):
            keep_index = table.index.name is not None or key == "coef"
            atomic_write_text(tmp / f"truth_{key}.csv", table.to_csv(index=keep_index))
    typer.echo(f"wrote {cohort!r} to {out}")


@app.command()
def check(
    patients: Annotated[Path | None, typer.Option(help="Patient table (CSV or Parquet).")] = None,
    lesions: Annotated[Path | None, typer.Option(help="Lesion table (CSV or Parquet).")] = None,
    study: Annotated[Path | None, typer.Option(
        help="Study file (TOML): check its data, endpoints, event map and features.")] = None,
    lesion_features: Annotated[
        list[str] | None, typer.Option(help="Lesion feature names or globs (repeatable; "
                                            "default: every non-role lesion column).")
    ] = None,
    patient_features: Annotated[
        list[str] | None, typer.Option(help="Patient predictor names or globs (repeatable).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Turn data warnings into errors.")] = False,
) -> None:
    """Validate a patient (and lesion) table, or a study's data, and print a summary.

    Without --lesion-features every lesion column that is not a role column (ids,
    timepoint, organ, volume, diameters, target flag, irradiation, dose, lesion outcomes)
    is checked as a radiomic feature. Patient columns are checked as features only when
    named with --patient-features; the summary lists the patient columns that were not.
    """
    from survrad.data.summary import describe_cohort, unchecked_columns
    from survrad.exceptions import ConfigError

    if study is not None:
        if patients is not None or lesions is not None or lesion_features or patient_features:
            raise ConfigError("give one of --study STUDY.toml or --patients P.csv (with "
                              "--lesions and feature options), not both: a study names its "
                              "own tables and features.")
        cohort = _check_study(study, strict)
        typer.echo(f"study: {study}")
    elif patients is None:
        raise ConfigError("give the data to check: --patients P.csv [--lesions L.csv], or "
                          "--study STUDY.toml.")
    else:
        cohort = _check_tables(patients, lesions, patient_features, lesion_features, strict)
    typer.echo(describe_cohort(cohort))
    if study is None and unchecked_columns(cohort)["patients"]:
        typer.echo("note: patient columns are checked as features only when named: pass "
                   "--patient-features NAME_OR_GLOB (repeatable) to validate predictors.")


def _check_tables(patients: Path, lesions: Path | None, patient_features: list[str] | None,
                  lesion_features: list[str] | None, strict: bool):
    """read_cohort on the tables; lesion features default to every non-role column."""
    from survrad.data.io import candidate_lesion_features, read_cohort
    from survrad.exceptions import SchemaError

    implied: list[str] = []
    if lesions is not None and not lesion_features:
        implied = candidate_lesion_features(lesions)
    try:
        return read_cohort(patients=patients, lesions=lesions,
                           patient_features=patient_features,
                           lesion_features=lesion_features or implied or None, strict=strict)
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
    """The cohort of a study, read and validated as ``survrad run`` would."""
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


def _refuse_existing(out: Path, force: bool) -> None:
    """The overwrite check of ``atomic_output_dir``, run before any work is done."""
    from survrad.exceptions import ConfigError

    if out.exists() and not force:
        raise ConfigError(f"output folder {str(out.resolve())!r} exists; pass --force to "
                          "replace it, or choose another folder.")


@app.command()
def run(
    study: Annotated[Path | None, typer.Argument(help="Study file (TOML).")] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder.")] = None,
    demo: Annotated[bool, typer.Option(help="Run the built-in demo study.")] = False,
    force: Annotated[bool, typer.Option(help="Replace an existing report folder.")] = False,
    n_jobs: Annotated[int | None, typer.Option(help="Local worker processes.")] = None,
    backend: Annotated[str | None, typer.Option(help="'dask' to use a Dask cluster.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://host:8786).")] = None,
) -> None:
    """Run a study (or --demo) and write a reproducible report folder."""
    from survrad.exceptions import ConfigError
    from survrad.study import run_study

    if (study is None) == (not demo):
        raise ConfigError("give exactly one of a STUDY file or --demo.")
    if out is None:
        raise ConfigError("--out DIR is required (the report folder).")
    folder = run_study(None if demo else study, out, force=force, n_jobs=n_jobs,
                       backend=backend, scheduler=scheduler,
                       progress=sys.stderr.isatty(), command=["survrad", *sys.argv[1:]])
    typer.echo(f"report written to {folder} (open {folder / 'index.html'})")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command and map exceptions to exit codes (0 / 2 / 1)."""
    try:
        app(args=argv, standalone_mode=False, prog_name="survrad")
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.TyperException as exc:  # usage errors: missing or bad options
        exc.show()
        return int(getattr(exc, "exit_code", 2) or 2)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except Exception as exc:
        if _is_input_error(exc):
            typer.echo(f"error: {exc}", err=True)
            return 2
        traceback.print_exc()  # a bug: show everything
        return 1
    return 0


def _is_input_error(exc: BaseException) -> bool:
    from survrad.exceptions import ConfigError, FitError, ResamplingError, SchemaError

    return isinstance(exc, SchemaError | ConfigError | FitError | ResamplingError
                      | FileNotFoundError)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

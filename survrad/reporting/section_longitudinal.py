"""The "Response" section of the report: scan responses, PFS from scans (layer 6).

Renders :class:`~survrad.evaluation.results_longitudinal.LongitudinalResult`: the best
overall response counts, every scan's response (CSV), the endpoints derived from the
scans, a swimmer plot and a spider plot. Nothing is computed here.
"""

from __future__ import annotations

from typing import Any

from survrad.evaluation.results_longitudinal import LongitudinalResult

__all__ = ["SECTION", "render_longitudinal", "response_methods"]

SECTION = "Response"
_CRITERIA = {"recist1.1": "RECIST 1.1", "irecist": "iRECIST"}


def _scope(res: LongitudinalResult) -> str:
    if res.landmark is None:
        return ""
    return (f" Landmark study: the patients still followed at {res.landmark:g} "
            f"{res.time_unit} and their scans up to it (what was known at the landmark).")


def render_longitudinal(rep: Any, results: Any) -> None:
    """Add the section's tables and figures to ``rep`` (nothing when not computed)."""
    from survrad.reporting.figures_recist import RecistSpiderDisplay
    from survrad.reporting.figures_swimmer import ResponseSwimmerDisplay

    res: LongitudinalResult | None = getattr(results, "longitudinal", None)
    if res is None:
        return
    rec = res.recist
    name = _CRITERIA[rec.criteria]
    confirmed = "confirmed" if rec.confirm else "unconfirmed"
    scope = _scope(res)
    rep.table(SECTION, res.response_counts, "best_response",
              f"Best overall response by {name} ({confirmed} CR/PR), "
              f"{len(rec.best_response)} patients.{scope}")
    rep.table(SECTION, rec.by_timepoint, "scan_responses",
              f"{name} response of every scan: sum of target diameters (mm), change from "
              "baseline and from the nadir (%), new lesions and the timepoint response.",
              max_rows=20)
    if res.pfs is not None:
        events = res.pfs[res.pfs["event"] == 1]["endpoint"].value_counts(sort=False)
        said = "; ".join(f"{ep}: {int(n)} events" for ep, n in events.items())
        rep.table(SECTION, res.pfs, "endpoints_from_scans",
                  f"Endpoints derived from the scans: first progression by {name} or death, "
                  f"whichever first, else censored at the last adequate scan ({said}).",
                  max_rows=20)
    if rec.has_times:
        rep.figure(SECTION, lambda: ResponseSwimmerDisplay.from_result(
            rec, res.follow_up).plot(), "swimmer",
            f"Swimmer plot: one lane per patient from the baseline scan to death (square) or "
            f"censoring (bar); dots are scans coloured by {name} response, crosses the "
            f"progression scans.{scope}")
    rep.figure(SECTION, lambda: RecistSpiderDisplay.from_result(rec).plot(), "spider",
               "Spider plot: change of the sum of target diameters from baseline at every "
               "scan, one line per patient coloured by best overall response "
               f"(+20 % and -30 % lines; crosses: progression).{scope}")


def response_methods(results: Any) -> str:
    """The Methods sentences of the Response section, ``""`` when it was not computed.

    Examples
    --------
    >>> response_methods(object())
    ''
    """
    res: LongitudinalResult | None = getattr(results, "longitudinal", None)
    if res is None:
        return ""
    rec = res.recist
    name = _CRITERIA[rec.criteria]
    text = (f"Tumour response was read from the lesion measurements of every scan by "
            f"{name} (Eisenhauer et al. 2009"
            + ("; Seymour et al. 2017" if rec.criteria == "irecist" else "")
            + "): the sum of the target lesions' diameters (short axis for lymph nodes) "
            "against baseline for response and against the nadir for progression "
            "(+20 % and at least +5 mm), with non-target and new lesions; best overall "
            "response " + ("required confirmation of CR/PR by a later scan. " if rec.confirm
                           else "did not require confirmation. "))
    if res.pfs is not None and len(res.pfs):
        names = sorted(set(res.pfs["endpoint"].astype(str)))
        text += (f"Endpoint{'s' if len(names) > 1 else ''} {', '.join(names)} "
                 f"{'were' if len(names) > 1 else 'was'} derived from the scans: the time to "
                 "the first progression or death, censored at the last scan. ")
    if res.landmark is not None:
        unit = f" {res.time_unit}" if res.time_unit else ""
        text += (f"To avoid guarantee-time bias, response entered the survival analysis "
                 f"through a landmark at {res.landmark:g}{unit}: only patients alive and "
                 "followed at the landmark were analysed, with their responses up to it and "
                 "time measured from it.")
    return text.strip()


"""Reporting checklists: the items of TRIPOD+AI and of the Radiomics Quality Score (data).

Plain data (item numbers, short titles, a one-line summary of each item, RQS points); which
items a study fills is computed by the study layer (:mod:`survrad.study.section_utility`).

Sources
-------
* TRIPOD+AI: Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated guidance
  for reporting clinical prediction models that use regression or machine learning
  methods. BMJ 2024;385:e078378. doi:10.1136/bmj-2023-078378. Item numbers and short
  titles as in its checklist (27 items; the abstract, item 2, has its own checklist); the
  summaries here are abridged: the statement's wording is authoritative.
* Radiomics Quality Score (RQS): Lambin P, Leijenaar RTH, Deist TM, et al. Radiomics: the
  bridge between medical imaging and personalized medicine. Nat Rev Clin Oncol
  2017;14:749-762. doi:10.1038/nrclinonc.2017.141. Sixteen components, -8 to 36 points.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RQS_ITEMS", "RQS_SOURCE", "TRIPOD_AI_ITEMS", "TRIPOD_AI_SOURCE", "ChecklistItem",
           "RQSItem"]

TRIPOD_AI_SOURCE = ("Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated "
                    "guidance for reporting clinical prediction models that use regression or "
                    "machine learning methods. BMJ 2024;385:e078378.")
RQS_SOURCE = ("Lambin P, Leijenaar RTH, Deist TM, et al. Radiomics: the bridge between "
              "medical imaging and personalized medicine. Nat Rev Clin Oncol "
              "2017;14:749-762.")


@dataclass(frozen=True)
class ChecklistItem:
    """A TRIPOD+AI item: number (``"5a"``), part of the paper, topic and summary."""

    item: str
    section: str
    topic: str
    text: str


@dataclass(frozen=True)
class RQSItem:
    """A Radiomics Quality Score component with its lowest and highest points."""

    item: int
    topic: str
    criterion: str
    min_points: int
    max_points: int


def _items(section: str, rows: tuple[tuple[str, str, str], ...]) -> tuple[ChecklistItem, ...]:
    return tuple(ChecklistItem(item, section, topic, text) for item, topic, text in rows)


TRIPOD_AI_ITEMS: tuple[ChecklistItem, ...] = (
    *_items("Title and abstract", (
        ("1", "Title", "Identify the study as developing or evaluating a multivariable "
         "prediction model, the target population and the outcome."),
        ("2", "Abstract", "See the TRIPOD+AI for Abstracts checklist."),
    )),
    *_items("Introduction", (
        ("3a", "Background", "Healthcare context and rationale, including existing models."),
        ("3b", "Background", "Target population, intended purpose in the care pathway and "
         "intended users."),
        ("3c", "Background", "Known health inequalities between sociodemographic groups."),
        ("4", "Objectives", "Study objectives: development, evaluation, or both."),
    )),
    *_items("Methods", (
        ("5a", "Data", "Sources of data (development and evaluation), rationale and "
         "representativeness."),
        ("5b", "Data", "Dates of accrual and end of follow-up."),
        ("6a", "Participants", "Study setting, number and location of centres."),
        ("6b", "Participants", "Eligibility criteria."),
        ("6c", "Participants", "Treatments received and how they were handled."),
        ("7", "Data preparation", "Pre-processing and quality checking of the data."),
        ("8a", "Outcome", "Definition of the outcome and time horizon, how and when "
         "assessed."),
        ("8b", "Outcome", "Qualifications of outcome assessors when subjective."),
        ("8c", "Outcome", "Blinding of outcome assessment."),
        ("9a", "Predictors", "Choice of initial predictors and any pre-selection."),
        ("9b", "Predictors", "Definition of all predictors, how and when measured."),
        ("9c", "Predictors", "Qualifications of predictor assessors when subjective."),
        ("10", "Sample size", "How the study size was arrived at and why it suffices."),
        ("11", "Missing data", "How missing data were handled; reasons for omitting data."),
        ("12a", "Analytical methods", "How the data were used for development and "
         "evaluation (partitioning)."),
        ("12b", "Analytical methods", "Handling of predictors (functional form, rescaling, "
         "transformation, standardisation)."),
        ("12c", "Analytical methods", "Type of model, model-building steps, hyperparameter "
         "tuning and internal validation."),
        ("12d", "Analytical methods", "Heterogeneity of estimates and performance across "
         "clusters."),
        ("12e", "Analytical methods", "Measures and plots of model performance "
         "(discrimination, calibration, clinical utility) and model comparison."),
        ("12f", "Analytical methods", "Model updating (e.g. recalibration)."),
        ("12g", "Analytical methods", "How the predictions were calculated for evaluation."),
        ("13", "Class imbalance", "Class imbalance methods and recalibration."),
        ("14", "Fairness", "Approaches to address model fairness."),
        ("15", "Model output", "Output of the model (probabilities, classification) and "
         "thresholds."),
        ("16", "Training versus evaluation", "Differences between development and "
         "evaluation data."),
        ("17", "Ethical approval", "Ethics committee and informed consent."),
    )),
    *_items("Open science", (
        ("18a", "Funding", "Source of funding and role of the funders."),
        ("18b", "Conflicts of interest", "Conflicts of interest of all authors."),
        ("18c", "Protocol", "Where the protocol can be accessed."),
        ("18d", "Registration", "Registration of the study."),
        ("18e", "Data sharing", "Availability of the study data."),
        ("18f", "Code sharing", "Availability of the analytical code."),
        ("19", "Patient and public involvement", "Patient and public involvement."),
    )),
    *_items("Results", (
        ("20a", "Participants", "Flow of participants, numbers with and without the outcome, "
         "follow-up."),
        ("20b", "Participants", "Characteristics overall and by data source: predictors, "
         "sample size, events, missing data."),
        ("20c", "Participants", "Comparison of development and evaluation data."),
        ("21", "Model development", "Number of participants and events in each analysis."),
        ("22", "Model specification", "The full model (formula, code, object) for predictions "
         "in new individuals."),
        ("23a", "Model performance", "Performance estimates with confidence intervals, "
         "including key subgroups."),
        ("23b", "Model performance", "Heterogeneity of performance across clusters."),
        ("24", "Model updating", "Results of any model updating."),
    )),
    *_items("Discussion", (
        ("25", "Interpretation", "Overall interpretation, including fairness."),
        ("26", "Limitations", "Limitations and their effect on bias, uncertainty and "
         "generalisability."),
        ("27a", "Usability", "How poor-quality or unavailable input data should be handled."),
        ("27b", "Usability", "Interaction and expertise required of users."),
        ("27c", "Usability", "Next steps for future research."),
    )),
)

RQS_ITEMS: tuple[RQSItem, ...] = (
    RQSItem(1, "Image protocol quality", "Imaging protocols well documented (+1); a public "
            "protocol used (+1).", 0, 2),
    RQSItem(2, "Multiple segmentations", "Feature robustness to segmentation variability "
            "(several physicians, algorithms or perturbations) (+1).", 0, 1),
    RQSItem(3, "Phantom study on all scanners", "Inter-scanner differences and "
            "vendor-dependent features detected on a phantom (+1).", 0, 1),
    RQSItem(4, "Imaging at multiple time points", "Images at additional time points; "
            "feature robustness to temporal variability (+1).", 0, 1),
    RQSItem(5, "Feature reduction or adjustment for multiple testing", "Either done (+3); "
            "neither (-3).", -3, 3),
    RQSItem(6, "Multivariable analysis with non-radiomics features", "Non-radiomic features "
            "(clinical, genomic) in the model (+1).", 0, 1),
    RQSItem(7, "Biological correlates", "Correlation of features with biology (+1).", 0, 1),
    RQSItem(8, "Cut-off analyses", "Risk groups by the median or a published cut-off, or a "
            "continuous risk reported (+1).", 0, 1),
    RQSItem(9, "Discrimination statistics", "Discrimination statistic and its significance "
            "(+1); a resampling method (+1).", 0, 2),
    RQSItem(10, "Calibration statistics", "Calibration statistic and its significance (+1); "
            "a resampling method (+1).", 0, 2),
    RQSItem(11, "Prospective study registered in a trial database", "Prospective "
            "validation (+7).", 0, 7),
    RQSItem(12, "Validation", "None (-5); internal (+2); external, same institute (+3); "
            "external, two institutes (+4); a published signature (+4); three or more "
            "institutes (+5).", -5, 5),
    RQSItem(13, "Comparison to 'gold standard'", "Added value over the current gold "
            "standard (+2).", 0, 2),
    RQSItem(14, "Potential clinical utility", "Clinical utility, e.g. decision curve "
            "analysis (+2).", 0, 2),
    RQSItem(15, "Cost-effectiveness analysis", "Cost-effectiveness (+1).", 0, 1),
    RQSItem(16, "Open science and data", "Open scans (+1), segmentations (+1), code (+1), "
            "representative features (+1).", 0, 4),
)

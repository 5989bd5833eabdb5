"""champion.stats: pure statistics on sufficient statistics (counts, sums, sums of squares).

Nothing here does I/O or sees rows, so every function serves 1 or 10^9 units alike. Results are
frozen dataclasses; a degenerate experiment is a result with a ``status``, not an exception.
docs/statistics.md gives each method's formula and reference.
"""

from champion.stats.adaptive import (
    AdaptiveStats,
    ArmValues,
    UniformGain,
    adaptive_stats,
    arm_values,
    gain_over_uniform,
    holdout_comparison,
)
from champion.stats.adaptive_sim import AdaptiveSimulation, simulate_adaptive
from champion.stats.always_valid import (
    ConfidenceSequence,
    MSPRTResult,
    confidence_sequence,
    confidence_sequence_path,
    msprt,
    msprt_path,
    sequential_srm,
    sequential_srm_path,
)
from champion.stats.bandits import RegretSimulation, simulate_regret, thompson_weights
from champion.stats.bayes import (
    BayesResult,
    bayes_compare,
    chance_to_beat,
    chance_to_beat_mean,
    prob_best_beta,
    prob_best_normal,
)
from champion.stats.clustered import (
    ClusteredQuantile,
    ClusteredRate,
    cluster_ratio_stats,
    clustered_histogram_mean,
    clustered_quantile,
    clustered_quantile_difference,
    clustered_rate_ci,
)
from champion.stats.contingency import chi_square, srm
from champion.stats.cuped import CupedResult, cuped
from champion.stats.drift import (
    PSIResult,
    RateCI,
    paired_proportion_test,
    proportion_ci,
    psi,
    psi_reading,
)
from champion.stats.effect_size import cohens_d, cohens_h
from champion.stats.frequentist import proportion_test, welch_test
from champion.stats.multiple import adjust_p_values, bonferroni_alpha, bonferroni_ci, reject
from champion.stats.noninferiority import (
    NonInferiorityResult,
    noninferiority_mean,
    noninferiority_proportion,
)
from champion.stats.power import (
    days_needed,
    mde_mean,
    mde_proportion,
    optimal_ratio_proportion,
    power_mean,
    power_proportion,
    sample_size_mean,
    sample_size_proportion,
)
from champion.stats.quantile import (
    QuantileEstimate,
    histogram_mean,
    histogram_quantile,
    histogram_quantile_arrays,
    order_statistic_ranks,
    quantile_difference,
)
from champion.stats.race import PolicyRace, Race, race
from champion.stats.ratio import ratio_test
from champion.stats.results import ChiSquareResult, SampleSize, SRMResult, Status, TestResult
from champion.stats.sequential import (
    SequentialDecision,
    crossing_probabilities,
    sequential_boundaries,
    sequential_decision,
    sequential_inflation,
    spending_function,
)
from champion.stats.stratified import (
    StratifiedResult,
    StratumEstimate,
    combine_strata,
    stratum_weights,
)
from champion.stats.sufficient import CovariateStats, MeanStats, ProportionStats, RatioStats

__all__ = [
    "AdaptiveSimulation",
    "AdaptiveStats",
    "ArmValues",
    "BayesResult",
    "ChiSquareResult",
    "ClusteredQuantile",
    "ClusteredRate",
    "ConfidenceSequence",
    "CovariateStats",
    "CupedResult",
    "MSPRTResult",
    "MeanStats",
    "NonInferiorityResult",
    "PSIResult",
    "PolicyRace",
    "ProportionStats",
    "QuantileEstimate",
    "Race",
    "RateCI",
    "RatioStats",
    "RegretSimulation",
    "SRMResult",
    "SampleSize",
    "SequentialDecision",
    "Status",
    "StratifiedResult",
    "StratumEstimate",
    "TestResult",
    "UniformGain",
    "adaptive_stats",
    "adjust_p_values",
    "arm_values",
    "bayes_compare",
    "bonferroni_alpha",
    "bonferroni_ci",
    "chance_to_beat",
    "chance_to_beat_mean",
    "chi_square",
    "cluster_ratio_stats",
    "clustered_histogram_mean",
    "clustered_quantile",
    "clustered_quantile_difference",
    "clustered_rate_ci",
    "cohens_d",
    "cohens_h",
    "combine_strata",
    "confidence_sequence",
    "confidence_sequence_path",
    "crossing_probabilities",
    "cuped",
    "days_needed",
    "gain_over_uniform",
    "histogram_mean",
    "histogram_quantile",
    "histogram_quantile_arrays",
    "holdout_comparison",
    "mde_mean",
    "mde_proportion",
    "msprt",
    "msprt_path",
    "noninferiority_mean",
    "noninferiority_proportion",
    "optimal_ratio_proportion",
    "order_statistic_ranks",
    "paired_proportion_test",
    "power_mean",
    "power_proportion",
    "prob_best_beta",
    "prob_best_normal",
    "proportion_ci",
    "proportion_test",
    "psi",
    "psi_reading",
    "quantile_difference",
    "race",
    "ratio_test",
    "reject",
    "sample_size_mean",
    "sample_size_proportion",
    "sequential_boundaries",
    "sequential_decision",
    "sequential_inflation",
    "sequential_srm",
    "sequential_srm_path",
    "simulate_adaptive",
    "simulate_regret",
    "spending_function",
    "srm",
    "stratum_weights",
    "thompson_weights",
    "welch_test",
]

"""Static analysis of pickle streams: an emulated pickle machine, a policy, and the hits they produce."""

from bastion.supplychain.pickle.analyzer import AnalysisLimits, Hit, StreamResult, analyse_stream
from bastion.supplychain.pickle.machine import MachineLimits, PickleError, PickleLimitError
from bastion.supplychain.pickle.policy import Policy, Verdict, parse_allowlist
from bastion.supplychain.pickle.values import BufferSource, FileSource, Source

__all__ = [
    "AnalysisLimits",
    "BufferSource",
    "FileSource",
    "Hit",
    "MachineLimits",
    "PickleError",
    "PickleLimitError",
    "Policy",
    "Source",
    "StreamResult",
    "Verdict",
    "analyse_stream",
    "parse_allowlist",
]

"""Rules for TensorFlow SavedModel and frozen graphs."""

from __future__ import annotations

from bastion.taxonomy.base import MODEL_FILE_REFS, Reference, Rule, Severity

REFERENCES: tuple[Reference, ...] = (
    Reference("paper:TensorAbuse", "Zhu et al., My Model is Malware to You: Transforming AI Models into Malware "
              "by Abusing TensorFlow APIs (IEEE S&P 2025), with its op list and proofs of concept",
              "https://github.com/ZJU-SEC/TensorAbuse"),
    Reference("TF:SECURITY", "TensorFlow security policy: TensorFlow models are programs",
              "https://github.com/tensorflow/tensorflow/blob/master/SECURITY.md"),
)
"""References these rules cite that the shared list does not hold."""

_REFS = (*MODEL_FILE_REFS, "paper:TensorAbuse", "TF:SECURITY")
_DONT_SERVE = (
    "Do not load or serve this model. Obtain it from its publisher through a verified channel, or re-export it from "
    "source without the op (a SavedModel needs no such op to be served); serve untrusted models only in a sandbox "
    "without file system or network access."
)

RULES: tuple[Rule, ...] = (
    Rule("BST-TF-001", Severity.CRITICAL, "TensorFlow graph runs Python code",
         "The graph contains a PyFunc, PyFuncStateless or EagerPyFunc op (tf.py_function, tf.numpy_function). "
         "When the graph runs, the op calls back into the Python interpreter of the serving process and invokes "
         "whatever callable is registered under the op's token. A model that carries one is a program with a "
         "Python escape hatch; no exported model needs one to be served.", _DONT_SERVE, _REFS),
    Rule("BST-TF-002", Severity.HIGH, "TensorFlow graph reads or writes files",
         "The graph contains ops that read or write files when it runs: ReadFile, WriteFile, MatchingFiles, "
         "ImmutableConst, file readers and datasets, text-file table initializers that do not read a bundled "
         "asset, summary writers, checkpoint Save/Restore/MergeV2Checkpoints ops outside the saver, PrintV2 to a "
         "file:// stream, or debug ops dumping to file:// URLs. Loading or serving the model lets it read local "
         "secrets into its outputs or overwrite files (the TensorAbuse primitives). The saver's own checkpoint "
         "ops, which run only when the variables are saved or restored at a path the loader supplies, are not "
         "reported.", _DONT_SERVE, _REFS),
    Rule("BST-TF-003", Severity.HIGH, "TensorFlow graph opens network connections",
         "The graph contains ops that connect to or listen on an address when it runs: RPC client and server "
         "ops, tf.data service datasets (DataServiceDataset, RegisterDataset, DistributedSave), GCS credential "
         "configuration, or debug ops streaming tensors to grpc:// URLs. Running the model can send its inputs, "
         "outputs or file contents to a remote host, or accept remote calls.", _DONT_SERVE, _REFS),
    Rule("BST-TF-004", Severity.MEDIUM, "TensorFlow graph exchanges tensors with other workers",
         "The graph contains collective ops (CollectiveReduce, CollectiveGather, CollectiveBcast...), RemoteCall, "
         "or _Send/_Recv ops between different tasks. They exchange tensors with the other processes of a "
         "distributed TensorFlow cluster. The peers come from the cluster configuration, not from the model, so "
         "this is not a connection to an address of the model's choosing (hence medium), but a model meant for "
         "single-process serving has no use for them and, in a cluster, they can move data between workers.",
         "Review why the model was exported with cross-worker ops; re-export it outside the distribution "
         "strategy's scope for serving, and serve it without a cluster configuration.", _REFS),
)
"""The rules, in id order."""

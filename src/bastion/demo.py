"""The sample project behind ``bastion demo``: benign models made by real libraries, and trojans written as bytes."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

# A protocol-2 pickle that would run `echo` through os.system if anyone loaded it. Written as bytes; Bastion
# never loads it, and neither does the demo.
_COMMAND = b"echo bastion-demo-trojan-ran"
TROJAN_PICKLE = (
    b"\x80\x02cos\nsystem\nq\x00X" + len(_COMMAND).to_bytes(4, "little") + _COMMAND + b"q\x01\x85q\x02Rq\x03."
)


def _benign_sklearn() -> object:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = make_classification(n_samples=200, n_features=8, random_state=0)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(features, labels)


def _trojan_torch_zip(benign_pickle: bytes) -> bytes:
    """A PyTorch-style zip whose data.pkl is the trojan; torch.load(weights_only=False) would run it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("resnet_finetuned/data.pkl", TROJAN_PICKLE)
        archive.writestr("resnet_finetuned/version", "3\n")
        archive.writestr("resnet_finetuned/extra/benign.pkl", benign_pickle)
    return buffer.getvalue()


def build_demo_project(folder: Path) -> list[Path]:
    """Write the sample project into ``folder`` and return the files written."""
    import joblib

    models = folder / "models"
    models.mkdir(parents=True, exist_ok=True)
    model = _benign_sklearn()
    written = []
    joblib.dump(model, models / "credit_classifier.joblib")
    written.append(models / "credit_classifier.joblib")
    (models / "credit_classifier.pkl").write_bytes(pickle.dumps(model, protocol=4))
    written.append(models / "credit_classifier.pkl")
    (models / "sentiment_head.pkl").write_bytes(TROJAN_PICKLE)
    written.append(models / "sentiment_head.pkl")
    (models / "resnet_finetuned.pt").write_bytes(_trojan_torch_zip(pickle.dumps({"epochs": 3})))
    written.append(models / "resnet_finetuned.pt")
    try:
        import torch
    except ImportError:
        pass
    else:
        net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        torch.save(net.state_dict(), models / "mlp_state_dict.pt")
        written.append(models / "mlp_state_dict.pt")
    readme = folder / "README.md"
    readme.write_text("# Sample AI project written by `bastion demo`\n\nTwo model files here are trojaned.\n")
    written.append(readme)
    return written

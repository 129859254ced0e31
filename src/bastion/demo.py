"""The sample project behind ``bastion demo``: benign models made by real libraries, and trojans written as bytes."""

from __future__ import annotations

import io
import json
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


# One advisory, written here in OSV form from the public record (PyTorch GHSA-53q9-r3pm-6pq6), so the demo can
# audit its requirements offline without touching the user's own advisory database.
DEMO_ADVISORY = {
    "schema_version": "1.6.0",
    "id": "GHSA-53q9-r3pm-6pq6",
    "aliases": ["CVE-2025-32434", "PYSEC-2025-41"],
    "summary": "torch.load with weights_only=True can still run code from a crafted checkpoint",
    "details": "In PyTorch 2.5.1 and earlier, loading a malicious checkpoint with torch.load(weights_only=True) can "
               "lead to remote code execution. Fixed in 2.6.0.",
    "published": "2025-04-17T00:00:00Z",
    "modified": "2025-04-18T00:00:00Z",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0"}]}]}],
    "database_specific": {"severity": "CRITICAL"},
    "references": [{"type": "ADVISORY", "url": "https://github.com/pytorch/pytorch/security/advisories/GHSA-53q9-r3pm-6pq6"}],
}
DEMO_REQUIREMENTS = "# pinned dependencies of the sample project\ntorch==2.5.1\nscikit-learn==1.5.2\nnumpy==2.1.3\n"


def _demo_key() -> str:
    """A made-up OpenAI-shaped project key (random, never valid), assembled at run time so no key-shaped literal
    sits in the source."""
    import random
    import string

    chars = random.Random(2026).choices(string.ascii_letters + string.digits + "-_", k=148)
    return "sk-" + "proj-" + "".join(chars[:74]) + "T3BlbkFJ" + "".join(chars[74:])


def _leaky_notebook() -> str:
    """A notebook that printed its API key in an output cell, as notebooks often do."""
    cells = [
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["import os\n", "import openai\n",
         "client = openai.OpenAI(api_key=os.environ['OPENAI_API_KEY'])\n", "print(os.environ)\n"],
         "outputs": [{"output_type": "stream", "name": "stdout",
                      "text": [f"environ({{'OPENAI_API_KEY': '{_demo_key()}', 'HOME': '/home/analyst'}})\n"]}]},
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def _applicants() -> str:
    """A training table for the credit model that still holds applicants' e-mails, phones and card numbers (made up:
    example.com addresses, 555-01xx numbers and the networks' published test card numbers)."""
    names = ["Ada Park", "Ben Osei", "Chloe Martin", "Dev Patel", "Eva Novak", "Finn Berg", "Gia Russo", "Hugo Lind"]
    cards = ["4111 1111 1111 1111", "5555 5555 5555 4444", "3782 822463 10005", "6011 1111 1111 1117"]
    rows = ["applicant_name,email,phone,card_number,income,approved"]
    for i in range(40):
        name = names[i % len(names)]
        rows.append(f"{name},{name.split()[0].lower()}.{i}@example.com,(415) 555-{100 + i:04d},{cards[i % 4]},"
                    f"{30_000 + 1_750 * i},{i % 3 != 0}")
    return "\n".join(rows) + "\n"


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
    (folder / "requirements.txt").write_text(DEMO_REQUIREMENTS)
    written.append(folder / "requirements.txt")
    (folder / "explore.ipynb").write_text(_leaky_notebook())
    written.append(folder / "explore.ipynb")
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "loan_applicants.csv").write_text(_applicants())
    written.append(folder / "data" / "loan_applicants.csv")
    readme = folder / "README.md"
    readme.write_text("# Sample AI project written by `bastion demo`\n\nTwo model files here are trojaned, and "
                      "requirements.txt pins a PyTorch with a known critical vulnerability, explore.ipynb printed "
                      "an API key in an output cell, and data/loan_applicants.csv still holds applicants' contact "
                      "details and card numbers.\n")
    written.append(readme)
    return written


def install_demo_advisories(home: Path) -> Path:
    """Write the demo's advisory and import it into an advisory database under ``home``; return the database."""
    from bastion.supplychain.deps import import_advisories

    source = home / "demo-advisories"
    source.mkdir(parents=True, exist_ok=True)
    (source / f"{DEMO_ADVISORY['id']}.json").write_text(json.dumps(DEMO_ADVISORY, indent=2))
    database = home / "advisories.sqlite"
    import_advisories(source, database)
    return database

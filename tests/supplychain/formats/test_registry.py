"""The format registry: sniffing is cheap, and each format's analysis half loads only when that format is analysed."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import bastion.supplychain.formats as formats

_PROBE = """
import json, sys
from pathlib import Path
from bastion.config import Settings
from bastion.scan.check import Target
from bastion.supplychain import ModelFileCheck
from bastion.supplychain.formats import default_analyzers

heavy = json.loads(sys.argv[1])
loaded = {}
default_analyzers()
loaded["default_analyzers()"] = [m for m in heavy if m in sys.modules]
for arg in sys.argv[2:]:
    path = Path(arg)
    outcome = ModelFileCheck().examine(Target(str(path), path, path.stat().st_size), Settings())
    loaded[path.name] = [m for m in heavy if m in sys.modules] + [f"format={outcome.kind}"]
print(json.dumps(loaded))
"""


def test_sniffing_and_scanning_other_formats_never_load_the_analysis_halves(tmp_path: Path) -> None:
    impls = sorted(p.stem for p in Path(formats.__file__).parent.glob("_*_impl.py"))
    assert len(impls) == len(formats._MODULES), impls
    heavy = [f"bastion.supplychain.formats.{name}" for name in impls] + ["jinja2", "h5py"]
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps({"weights": [1.0, 2.0, 3.0], "name": "tiny"}, protocol=4))
    archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("README.md", "# A model\n\nSome notes.\n")
        zipped.writestr("vocab.txt", "hello\nworld\n")
        zipped.writestr("data.json", '{"a": 1, "b": [2, 3]}')
    config = tmp_path / "config.json"  # a control: analysing a format does load its half
    config.write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))

    run = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(heavy), str(model), str(archive), str(config)],
                         capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)

    assert loaded["default_analyzers()"] == []
    assert loaded["model.pkl"] == ["format=pickle"]
    assert loaded["notes.zip"] == ["format=zip"]
    assert "bastion.supplychain.formats._hf_config_impl" in loaded["config.json"]
    assert not {"jinja2", "h5py"} & set(loaded["config.json"])

"""The CycloneDX 1.6 ML-BOM of a scan: models with model cards, datasets, files, and findings as vulnerabilities.

``build_bom(scan_result, root)`` then ``bom_json(ml_bom)``; see ``docs/bom.md`` for what goes where. CycloneDX
itself is imported only when a BOM is built, so importing this package costs nothing at scan start-up.
"""

from bastion.supplychain.bom.datasets import DatasetInfo, sniff_dataset
from bastion.supplychain.bom.document import (
    BomValidationError,
    MlBom,
    bom_json,
    build_bom,
    can_validate,
    validate_bom_json,
)
from bastion.supplychain.bom.inventory import Inventory, build_inventory

__all__ = [
    "BomValidationError",
    "DatasetInfo",
    "Inventory",
    "MlBom",
    "bom_json",
    "build_bom",
    "build_inventory",
    "can_validate",
    "sniff_dataset",
    "validate_bom_json",
]

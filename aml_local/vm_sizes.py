"""The VM sizes the service's region offers, as `GET .../locations/{loc}/vmSizes` lists them
(figures from Azure's published sizes; a small subset)."""

from __future__ import annotations

from typing import Any

# name: (family, vCPUs, memory GB)
VM_SIZES: dict[str, tuple[str, int, float]] = {
    "Standard_D2s_v3": ("standardDSv3Family", 2, 8.0),
    "Standard_D4s_v3": ("standardDSv3Family", 4, 16.0),
    "Standard_D8s_v3": ("standardDSv3Family", 8, 32.0),
    "Standard_D16s_v3": ("standardDSv3Family", 16, 64.0),
    "Standard_E4s_v3": ("standardESv3Family", 4, 32.0),
    "Standard_E8s_v3": ("standardESv3Family", 8, 64.0),
    "Standard_E16s_v3": ("standardESv3Family", 16, 128.0),
    "Standard_F2s_v2": ("standardFSv2Family", 2, 4.0),
    "Standard_F4s_v2": ("standardFSv2Family", 4, 8.0),
    "Standard_F8s_v2": ("standardFSv2Family", 8, 16.0),
    "Standard_F16s_v2": ("standardFSv2Family", 16, 32.0),
    "Standard_DS3_v2": ("standardDSv2Family", 4, 14.0),
}


def canonical(vm_size: str) -> str | None:
    """The listed spelling of a size given in any case (Azure reports cluster sizes upper-case);
    None when the region does not offer it."""
    return next((name for name in VM_SIZES if name.lower() == vm_size.lower()), None)


def listing() -> dict[str, Any]:
    """The VirtualMachineSizeListResult body."""
    return {
        "value": [
            {
                "name": name,
                "family": family,
                "vCPUs": cores,
                "gpus": 0,
                "memoryGB": memory_gb,
                "lowPriorityCapable": True,
                "premiumIO": True,
                "supportedComputeTypes": ["AmlCompute", "ComputeInstance"],
            }
            for name, (family, cores, memory_gb) in VM_SIZES.items()
        ]
    }

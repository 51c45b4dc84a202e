"""The machine the server runs on, read with psutil when asked: CPU, load, memory, disk (of
the data directory's file system), network counters since boot."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SystemUsage:
    cpu_percent: float  # since the previous reading (the first: since the server started)
    load_average: tuple[float, float, float]  # 1, 5 and 15 minutes
    memory_used_mb: int
    memory_total_mb: int
    memory_percent: float
    disk_used_mb: int
    disk_total_mb: int
    disk_percent: float
    bytes_sent: int
    bytes_received: int
    packets_sent: int
    packets_received: int


def prime_cpu() -> None:
    """psutil measures CPU between two readings; the first reading only starts the clock."""
    psutil.cpu_percent(interval=None)


def system_usage(data_dir: Path) -> SystemUsage:
    disk_root = data_dir if data_dir.exists() else Path("/")
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(disk_root))
    net = psutil.net_io_counters()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return SystemUsage(
        cpu_percent=psutil.cpu_percent(interval=None),
        load_average=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
        memory_used_mb=(memory.total - memory.available) // MB,
        memory_total_mb=memory.total // MB,
        memory_percent=memory.percent,
        disk_used_mb=disk.used // MB,
        disk_total_mb=disk.total // MB,
        disk_percent=disk.percent,
        bytes_sent=net.bytes_sent,
        bytes_received=net.bytes_recv,
        packets_sent=net.packets_sent,
        packets_received=net.packets_recv,
    )

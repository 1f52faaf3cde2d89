"""When a job preempted again and again moves to a dedicated cluster
(aml_bridge.executor.preemption)."""

from aml_bridge.executor.preemption import PreemptionWatch, move_target, moved_spec
from aml_bridge.gateway.polling import Restart
from aml_bridge.model.clusters import Cluster, by_size
from aml_bridge.model.specs.command import build_spec
from aml_bridge.model.specs.common import RunContext
from aml_bridge.model.specs.pipeline import build_pipeline_spec
from tests.executor.test_pipeline_spec import GROUPED, group_facts, members
from tests.executor.test_translate import RUN, facts

LOW = Cluster("genomics-cluster", "STANDARD_E8S_V3", 8, 65536, 4, "low_priority")
TWIN = Cluster("genomics-dedicated", "Standard_E8s_v3", 8, 65536, 2, "dedicated")
OTHER_SIZE = Cluster("big-dedicated", "STANDARD_E16S_V3", 16, 131072, 2, "dedicated")
CLUSTERS = by_size([LOW, TWIN, OTHER_SIZE])


def test_moves_only_past_the_limit_to_a_dedicated_cluster_of_the_same_size():
    assert move_target(2, 2, LOW, CLUSTERS) is None  # "more than N": 2 of 2 stays
    assert move_target(3, 2, LOW, CLUSTERS) == TWIN  # the size compared case-insensitively
    assert move_target(1, 0, LOW, CLUSTERS) == TWIN  # 0: the first preemption moves it


def test_stays_without_a_dedicated_twin_or_when_already_dedicated():
    assert move_target(9, 2, LOW, by_size([LOW, OTHER_SIZE])) is None
    assert move_target(9, 2, TWIN, CLUSTERS) is None
    assert move_target(9, 2, None, CLUSTERS) is None  # serverless or unknown cluster
    low_twin = Cluster("other-low", "STANDARD_E8S_V3", 8, 65536, 4, "low_priority")
    assert move_target(9, 2, LOW, by_size([LOW, low_twin])) is None


def test_moved_command_job_has_a_new_name_on_the_twin():
    run = RunContext(**{**RUN.__dict__, "clusters": CLUSTERS})
    spec = build_spec(run, facts())
    assert spec.compute == LOW.name
    moved = moved_spec(spec, TWIN)
    assert moved.compute == TWIN.name and moved.name == spec.name + "-dedicated"
    assert moved.to_yaml()["compute"] == "azureml:genomics-dedicated"
    assert moved.command == spec.command and moved.tags == spec.tags


def test_watch_counts_restarts_and_moves_once_past_the_limit():
    run = RunContext(**{**RUN.__dict__, "clusters": CLUSTERS})
    spec = build_spec(run, facts())
    watch = PreemptionWatch(CLUSTERS, 1, step_statuses=lambda name: {})
    active = {spec.name: ("bwa_mem[sample=A,unit=1]", spec)}
    restart = Restart(spec.name, "Running", "Queued")
    assert watch.round([restart], active) == []  # 1 preemption, limit 1: stays
    assert watch.note(spec.name) is None
    ((move, moved),) = watch.round([restart], active)
    assert (move.source, move.target, move.preemptions) == (LOW.name, TWIN.name, 2)
    assert moved.compute == TWIN.name
    line = move.line()
    assert "genomics-cluster" in line and "genomics-dedicated" in line and "2 times" in line
    assert watch.note(spec.name) == watch.note(moved.name) == move.note
    assert "genomics-dedicated" in move.note


def test_watch_counts_a_pipeline_by_its_steps_restarts():
    run = RunContext(**{**GROUPED.__dict__, "clusters": CLUSTERS})
    spec = build_pipeline_spec(run, group_facts(), "bwa_mem", members(5))
    assert spec.compute == LOW.name
    statuses = iter([{"s": "Running"}, {"s": "Queued"}, {"s": "Running"}, {"s": "Preparing"}])
    watch = PreemptionWatch(CLUSTERS, 1, step_statuses=lambda name: next(statuses))
    active = {spec.name: ("g", spec)}
    # the pipeline's own status stays Running: its restarts (none here) are not what counts
    assert watch.round([], active) == [] and watch.round([], active) == []
    assert watch.round([], active) == []
    ((move, moved),) = watch.round([], active)
    assert move.preemptions == 2 and moved.compute == TWIN.name
    assert moved.folder.endswith(f"/{moved.name}/") and moved.folder != spec.folder
    assert moved.instance_count <= TWIN.max_instances

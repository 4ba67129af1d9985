"""What the sharded pipelines share: how a fanned-out task is given its machine."""

#: Shard tasks running at once (0: no limit); compiled into the pipeline (KFP takes no parameter here).
DEFAULT_PARALLELISM = 32


def size_machine(task, target: str, *, cpu, memory) -> None:
    """Size the task's machine on Vertex: its CPU and memory limits pick the machine type
    (https://cloud.google.com/vertex-ai/docs/pipelines/machine-types). Locally the limits would do
    nothing, and kfp 2.17's local runner cannot resolve a pipeline parameter given to them inside a
    ParallelFor, so the local target leaves them out."""
    if target == "vertex":
        task.set_cpu_limit(cpu).set_memory_limit(memory)

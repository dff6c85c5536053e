# results/run.json: what the run did (settings, dataset size, seconds per stage, package versions, commit).


rule run_info:
    input:
        summary=f"{RESULTS}/split_summary.json",
        metrics=f"{RESULTS}/metrics.json",
        benchmarks=run_benchmarks(),
        outputs=[o for o in final_outputs() if not o.endswith("run.json")],
    output:
        f"{RESULTS}/run.json",
    params:
        settings=RUN_SETTINGS | {"predict": CFG["predict"]},
    log:
        "logs/run_info.log",
    run:
        from seesound.runinfo import write_run_info

        write_run_info(output[0], input.summary, input.metrics, input.benchmarks, params.settings, workflow.basedir)

# results/run.json: what the run did (settings, dataset size, seconds per stage, package versions, commit).


rule run_info:
    input:
        summary=f"{RESULTS}/split_summary.json",
        metrics=f"{RESULTS}/metrics.json",
        benchmarks=run_benchmarks(),
        outputs=[o for o in final_outputs() if not o.endswith("run.json")],
    output:
        info=f"{RESULTS}/run.json",
        stage_times=report(
            f"{RESULTS}/tables/stage_times.csv",
            caption="../report/stage_times.rst",
            category=CATEGORY["run"],
            labels={"figure": "seconds per stage"},
        ),
    log:
        f"{LOGS}/run_info.log",
    params:
        settings=RUN_SETTINGS
        | {
            "predict": PREDICT
            | {"model": PREDICT_MODEL, "recordings": len(RECORDINGS)}
        },
    run:
        from seesound.runinfo import write_run_info

        write_run_info(
            output.info,
            output.stage_times,
            input.summary,
            input.metrics,
            input.benchmarks,
            params.settings,
            workflow.basedir,
        )

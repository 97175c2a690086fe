# Collect the per-fold metrics into the results table and draw Fig 1.


rule simulation_table:
    input:
        fits=simulation_fits,
    output:
        table=report(
            R("results/tables/simulation_r2.tsv"),
            caption="../report/simulation_table.rst",
            category="Fig 1: simulation",
        ),
    log:
        R("results/logs/simulation_table.log"),
    conda:
        "../../envs/sparselmm.yaml"
    params:
        folds=len(FOLDS),
    script:
        "../scripts/collect_metrics.py"


rule fig1:
    input:
        table=R("results/tables/simulation_r2.tsv"),
    output:
        png=report(
            R("results/figures/fig1_simulation.png"),
            caption="../report/fig1.rst",
            category="Fig 1: simulation",
        ),
        pdf=R("results/figures/fig1_simulation.pdf"),
    log:
        R("results/logs/fig1.log"),
    conda:
        "../../envs/sparselmm.yaml"
    params:
        methods=METHODS,
    script:
        "../scripts/plot_fig1.py"


rule real_table:
    input:
        fits=real_fits,
        groups=R("results/realdata/groups.tsv"),
    output:
        table=report(
            R("results/tables/real_r2.tsv"),
            caption="../report/real_table.rst",
            category="Fig 2: real data",
        ),
    log:
        R("results/logs/real_table.log"),
    conda:
        "../../envs/sparselmm.yaml"
    params:
        folds=len(FOLDS),
    script:
        "../scripts/collect_metrics.py"


rule fig2:
    input:
        table=R("results/tables/real_r2.tsv"),
    output:
        png=report(
            R("results/figures/fig2_real.png"),
            caption="../report/fig2.rst",
            category="Fig 2: real data",
        ),
        pdf=R("results/figures/fig2_real.pdf"),
    log:
        R("results/logs/fig2.log"),
    conda:
        "../../envs/sparselmm.yaml"
    params:
        methods=REAL_METHODS,
    script:
        "../scripts/plot_fig2.py"


rule timings_table:
    input:
        unpack(timing_inputs),
    output:
        table=report(
            R("results/tables/timings.tsv"),
            caption="../report/timings_table.rst",
            category="Run time",
        ),
    log:
        R("results/logs/timings_table.log"),
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/collect_timings.py"


rule simulation_summary:
    input:
        table=R("results/tables/simulation_r2.tsv"),
    output:
        table=report(
            R("results/tables/simulation_summary.tsv"),
            caption="../report/summary_table.rst",
            category="Fig 1: simulation",
        ),
    log:
        R("results/logs/simulation_summary.log"),
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/summarise.py"


rule real_summary:
    input:
        table=R("results/tables/real_r2.tsv"),
    output:
        table=report(
            R("results/tables/real_summary.tsv"),
            caption="../report/summary_table.rst",
            category="Fig 2: real data",
        ),
    log:
        R("results/logs/real_summary.log"),
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/summarise.py"


rule real_predicted:
    input:
        table=R("results/tables/real_r2.tsv"),
    output:
        table=report(
            R("results/tables/real_predicted.tsv"),
            caption="../report/predicted_table.rst",
            category="Fig 2: real data",
        ),
    log:
        R("results/logs/real_predicted.log"),
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/predicted.py"


rule hybrid_status:
    input:
        table=R("results/tables/simulation_r2.tsv"),
    output:
        table=report(
            R("results/tables/simulation_hybrid.tsv"),
            caption="../report/hybrid_status.rst",
            category="Fig 1: simulation",
        ),
    log:
        R("results/logs/simulation_hybrid.log"),
    conda:
        "../../envs/sparselmm.yaml"
    params:
        damping=config["hybrid"]["damping"],
    script:
        "../scripts/hybrid_status.py"


rule auto_choices:
    input:
        table=R("results/tables/{analysis}_r2.tsv"),
    output:
        table=report(
            R("results/tables/{analysis}_auto.tsv"),
            caption="../report/auto_choices.rst",
            category="Method chosen by auto",
        ),
    log:
        R("results/logs/{analysis}_auto.log"),
    wildcard_constraints:
        analysis="simulation|real",
    conda:
        "../../envs/sparselmm.yaml"
    script:
        "../scripts/auto_choices.py"

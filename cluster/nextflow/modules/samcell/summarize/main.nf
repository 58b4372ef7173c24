process SAMCELL_SUMMARIZE {
    tag "$meta.id"
    label 'process_single'

    // the image of SAMCELL_SEGMENT (see there)
    container 'samcell:0.1.0'

    input:
    // every file the shards of one batch wrote (SAMCELL_SEGMENT's results, all shards together)
    tuple val(meta), path(results, stageAs: 'results/*')
    // the batch's images, which summarize lists again to find what is missing (staged so that a
    // container sees them)
    path(images, stageAs: 'images/*')

    output:
    tuple val(meta), path("results/run.json")   , emit: run
    tuple val(meta), path("results/summary.csv"), emit: summary
    path "versions.yml"                         , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    // exits 1, listing the missing and failed images and the command that redoes them, unless
    // every image of the batch is done
    """
    samcell summarize ${args} results

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        samcell: \$(samcell --version | sed 's/^samcell //')
    END_VERSIONS
    """

    stub:
    """
    touch results/run.json results/summary.csv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        samcell: \$(samcell --version | sed 's/^samcell //')
    END_VERSIONS
    """
}

process SAMCELL_SEGMENT {
    tag "$meta.id"
    label 'process_medium'

    // The image the repository's Dockerfile builds (docker build -t samcell:0.1.0 .); push it to
    // your registry, or convert it (apptainer build samcell.sif docker-daemon://samcell:0.1.0),
    // and point process.container at it in your configuration.
    container 'samcell:0.1.0'

    input:
    // meta: id, and for a sharded run shard (I, from 0) and shards (N): every task gets all the
    // images of the batch and segments its share of them, balanced by pixel count
    tuple val(meta), path(images, stageAs: 'images/*')

    output:
    tuple val(meta), path("${prefix}/*_masks.tif")     , emit: masks   , optional: true
    tuple val(meta), path("${prefix}/*_overlay.png")   , emit: overlays, optional: true
    tuple val(meta), path("${prefix}/*_cells.csv")     , emit: cells   , optional: true
    tuple val(meta), path("${prefix}/run-shard-*.json"), emit: record
    tuple val(meta), path("${prefix}/*")               , emit: results
    path "versions.yml"                                 , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def shard = meta.shards ? "${meta.shard}/${meta.shards}" : '0/1'
    // samcell summarize requires every shard of a batch to name the same inputs from the same
    // working folder, and each task has its own: the images are named by their real paths and
    // samcell runs from the root folder.
    """
    out="\$PWD/${prefix}"
    mkdir -p "\$out"
    inputs=()
    for image in images/*; do
        inputs+=("\$(readlink -f "\$image")")
    done
    (
        cd /
        RAYON_NUM_THREADS=${task.cpus} samcell segment "\${inputs[@]}" \\
            --output "\$out" \\
            --shard ${shard} \\
            ${args}
    )

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        samcell: \$(samcell --version | sed 's/^samcell //')
    END_VERSIONS
    """

    stub:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def shard = meta.shards ? "${meta.shard}/${meta.shards}" : '0/1'
    def record = meta.shards ? "${meta.shard}-of-${meta.shards}" : '0-of-1'
    // empty outputs for this shard's images, which samcell segment --dry-run lists (it reads
    // the files' headers only), so that the shards' files do not collide in SAMCELL_SUMMARIZE
    """
    out="\$PWD/${prefix}"
    mkdir -p "\$out"
    inputs=()
    for image in images/*; do
        inputs+=("\$(readlink -f "\$image")")
    done
    (cd / && samcell segment "\${inputs[@]}" --output "\$out" --shard ${shard} ${args} --dry-run) |
        while IFS=\$'\\t' read -r input masks action; do
            name="\${masks%_masks.tif}"
            touch "\${name}_masks.tif" "\${name}_overlay.png" "\${name}_cells.csv" "\${name}_run.json"
        done
    touch ${prefix}/run-shard-${record}.json ${prefix}/summary-shard-${record}.csv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        samcell: \$(samcell --version | sed 's/^samcell //')
    END_VERSIONS
    """
}

#!/usr/bin/env nextflow
// A sharded samcell run: params.shards SAMCELL_SEGMENT tasks, each segmenting its share of the
// images (balanced by pixel count), then SAMCELL_SUMMARIZE over all their files.
//
//   nextflow run cluster/nextflow/main.nf --input 'images/*.tif' --shards 8 --outdir results -profile docker
//   nextflow run cluster/nextflow/main.nf ... -stub     # the plumbing only, with empty files
//
// Options of samcell segment go in the configuration, e.g.
//   process { withName: 'SAMCELL_SEGMENT' { ext.args = '--model generalist --save-geojson' } }

nextflow.enable.dsl = 2

include { SAMCELL_SEGMENT   } from './modules/samcell/segment/main'
include { SAMCELL_SUMMARIZE } from './modules/samcell/summarize/main'

params.input  = 'images/*.{png,jpg,jpeg,tif,tiff,bmp}'
params.shards = 4
params.id     = 'samcell'
params.outdir = 'results'

workflow {
    // all the images, in one sorted list: every shard is given the whole batch
    images = Channel.fromPath(params.input, checkIfExists: true).toSortedList()

    shards = images.flatMap { files ->
        (0..<params.shards).collect { i ->
            [ [ id: "${params.id}_shard${i}", batch: params.id, shard: i, shards: params.shards ], files ]
        }
    }
    SAMCELL_SEGMENT(shards)

    // every file of every shard, for one summarize task
    results = SAMCELL_SEGMENT.out.results
        .flatMap { meta, files -> files instanceof List ? files : [ files ] }
        .collect()
        .map { files -> [ [ id: params.id ], files ] }
    SAMCELL_SUMMARIZE(results, images)
}

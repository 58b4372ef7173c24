"""napari plugin for samcell-rs.

- A dock widget (``Segment cells``): segments the selected image layer with a samcell model (the
  built-in lite model, the published generalist or cyto model, or a checkpoint file) in a worker
  thread and adds the labels and the distance map; the peak and fill sliders then rerun only the
  post-processing on the stored distance map and update the labels in place.
- A reader for ``samcell segment``'s output folders (or one ``<name>_masks.tif``): the image
  when its file is found, the masks as labels and the distance map when saved, scaled by the
  pixel size the run recorded.

The Qt-free parts (``napari_samcell_rs.layers``, ``napari_samcell_rs._reader``) are plain
functions on arrays and paths.
"""

__version__ = "0.1.0"

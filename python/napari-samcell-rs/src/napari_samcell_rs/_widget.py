"""The ``Segment cells`` dock widget (Qt, through magicgui): model and thresholds, a worker
thread for the segmentation, and the sliders' rerun of the post-processing alone."""

from typing import Any, Optional

from magicgui.widgets import (
    ComboBox,
    Container,
    FileEdit,
    FloatSlider,
    Label,
    PushButton,
    create_widget,
)

import samcell_rs

from . import layers as L


class SegmentWidget(Container):
    """Segments the chosen image layer; ``peak`` and ``fill`` rethreshold the last result."""

    def __init__(self, napari_viewer: Any):
        super().__init__(labels=True)
        self._viewer = napari_viewer
        self._image = create_widget(annotation="napari.layers.Image", label="image")
        self._model = ComboBox(label="model", choices=list(L.MODELS), value="lite")
        self._path = FileEdit(label="checkpoint", mode="r", visible=False)
        # tracking off: a slider reruns the post-processing when released, not at every step
        slider = dict(min=0.0, max=1.0, step=0.01, tracking=False)
        self._peak = FloatSlider(label="peak", value=round(samcell_rs.DEFAULT_PEAK, 2), **slider)
        self._fill = FloatSlider(label="fill", value=round(samcell_rs.DEFAULT_FILL, 2), **slider)
        self._run = PushButton(text="Segment")
        self._status = Label(value="")
        self.extend(
            [self._image, self._model, self._path, self._peak, self._fill, self._run, self._status]
        )
        self._model.changed.connect(lambda choice: setattr(self._path, "visible", choice == "file"))
        self._run.clicked.connect(self.run)
        self._peak.changed.connect(self._rethreshold)
        self._fill.changed.connect(self._rethreshold)
        # the last result: (segmenter, distance map, labels layer name)
        self._last: Optional[tuple] = None
        self.worker = None

    @property
    def status(self) -> str:
        return self._status.value

    def run(self):
        """Starts the segmentation of the chosen layer in a worker thread; returns the worker
        (``None`` when there is nothing to segment)."""
        from napari.qt.threading import create_worker

        layer = self._image.value
        if layer is None:
            self._status.value = "add an image layer first"
            return None
        try:
            spec = L.model_spec(self._model.value, self._path.value)
            plane = L.image_plane(layer.data, layer.rgb, self._viewer.dims.current_step)
        except ValueError as e:
            self._status.value = str(e)
            return None
        peak, fill = self._peak.value, self._fill.value
        name = layer.name
        scale, translate = tuple(layer.scale[-2:]), tuple(layer.translate[-2:])

        def work():
            seg = L.segmenter(spec)
            return seg, seg.segment(plane, peak=peak, fill=fill)

        worker = create_worker(work)
        worker.returned.connect(lambda out: self._show(out, name, scale, translate))
        worker.errored.connect(lambda e: setattr(self._status, "value", f"failed: {e}"))
        worker.finished.connect(lambda: setattr(self._run, "enabled", True))
        self._run.enabled = False
        self._status.value = f"segmenting {name} with {spec}..."
        self.worker = worker
        worker.start()
        return worker

    def _show(self, out, name, scale, translate):
        seg, result = out
        for data, meta, kind in L.segmentation_layers(result, name, scale, translate):
            if meta["name"] in self._viewer.layers:
                existing = self._viewer.layers[meta["name"]]
                existing.data = data
                existing.metadata.update(meta.get("metadata", {}))
            else:
                getattr(self._viewer, f"add_{kind}")(data, **meta)
        self._last = (seg, result.distance_map, L.labels_name(name))
        # the result's notes (e.g. the built-in model's out-of-domain warning) are shown, not
        # dropped: the status line and the labels layer's metadata carry them
        notes = "".join(f"\n{w}" for w in result.warnings)
        self._status.value = f"{result.n_cells} cells in {result.timings['total']:.1f} s{notes}"

    def _rethreshold(self, _value=None):
        if self._last is None:
            return
        seg, distance_map, labels_name = self._last
        if labels_name not in self._viewer.layers:
            return
        try:
            result = L.rethreshold(seg, distance_map, self._peak.value, self._fill.value)
        except ValueError as e:
            self._status.value = str(e)
            return
        layer = self._viewer.layers[labels_name]
        layer.data = result.labels
        layer.metadata.update(peak=result.peak, fill=result.fill, n_cells=result.n_cells)
        self._status.value = (
            f"{result.n_cells} cells (peak {result.peak:.2f}, fill {result.fill:.2f})"
        )

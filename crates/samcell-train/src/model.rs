//! The model seam for training: what the loop needs from an architecture (SAM, lite U-Net).

/// A model the training loop can fine-tune.
pub trait TrainableModel: Send {
    /// Short identity for logs ("SAM vit-b", "lite unet-16").
    fn describe(&self) -> String;
    /// Every parameter the optimiser updates, with its checkpoint key (stable order).
    fn trainable(&self) -> Vec<(String, candle_core::Var)>;
    /// Encodes a batch of enhanced crops (after CLAHE + min-max, i.e. the pipeline's per-crop
    /// preprocessing, each `crop` x `crop` pixels) into the model's input tensor on `device`.
    fn encode(
        &self,
        crops: &[samcell_imaging::GrayU8],
        device: &candle_core::Device,
    ) -> candle_core::Result<candle_core::Tensor>;
    /// Logits (B, H, W) whose sigmoid is the distance map at the crop's resolution that the loss
    /// compares with the target (SAM: mask token 1, 256x256).
    fn forward_logits(
        &self,
        input: &candle_core::Tensor,
    ) -> candle_core::Result<candle_core::Tensor>;
    /// Writes the whole model (trainable and frozen tensors) as safetensors in its own key layout
    /// (SAM: the Hugging Face SamModel keys, loadable by `samcell segment` and by the Python tools).
    fn save_safetensors(&self, path: &std::path::Path) -> candle_core::Result<()>;
}

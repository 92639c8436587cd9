"""Rate–distortion benchmark: neuralcodec against JPEG, WebP, AVIF and JPEG XL."""

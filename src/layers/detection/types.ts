/**
 * Layer types whose top is detection rows [1, 1, N, 7] (image, label, score, xmin, ymin, xmax, ymax normalized):
 * the SSD fork's DetectionOutput and eric612/MobileNet-YOLO's two (yolo_detection_output.ts). A module of its own:
 * verify's blob comparison (in the browser's page-side module too) needs the names, not the layers.
 */
export const DETECTION_TYPES: ReadonlySet<string> = new Set(['DetectionOutput', 'YoloDetectionOutput', 'Yolov3DetectionOutput']);

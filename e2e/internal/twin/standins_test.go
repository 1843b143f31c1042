package twin

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func TestVolumeProvisionerStandInProvisionsPlacedClaimsOfItsDriverOnly(t *testing.T) {
	retain := corev1.PersistentVolumeReclaimRetain
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	claim := func(name, class string, placed bool) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name)},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: &class,
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("200Gi")}},
			},
		}
		if placed {
			c.Annotations = map[string]string{selectedNode: "node-a"}
		}
		return c
	}
	cs := fake.NewSimpleClientset(
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "px"}, Provisioner: "pxd.portworx.com", ReclaimPolicy: &retain, VolumeBindingMode: &wait},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "ebs"}, Provisioner: "ebs.csi.aws.com"},
		claim("placed", "px", true),
		claim("waiting", "px", false),
		claim("other-driver", "ebs", true),
	)
	if err := provisionOnce(t.Context(), cs, map[string]bool{"pxd.portworx.com": true}); err != nil {
		t.Fatal(err)
	}
	pvs, err := cs.CoreV1().PersistentVolumes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pvs.Items) != 1 {
		t.Fatalf("%d PVs, want one for the placed px claim only", len(pvs.Items))
	}
	pv := pvs.Items[0]
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name != "placed" || pv.Spec.ClaimRef.UID != "uid-placed" ||
		pv.Spec.PersistentVolumeReclaimPolicy != retain || pv.Spec.CSI == nil || pv.Spec.CSI.Driver != "pxd.portworx.com" ||
		pv.Spec.Capacity.Storage().String() != "200Gi" || pv.Spec.StorageClassName != "px" || pv.Spec.NodeAffinity != nil {
		t.Errorf("PV %+v", pv.Spec)
	}
	// Idempotent: a second pass creates nothing more and fails on nothing.
	if err := provisionOnce(t.Context(), cs, map[string]bool{"pxd.portworx.com": true}); err != nil {
		t.Fatal(err)
	}
}

package twin

import (
	"context"
	"fmt"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// ackGroupSuffix is the API group family of the AWS Controllers for
// Kubernetes (quicksight.services.k8s.aws, ...).
const ackGroupSuffix = ".services.k8s.aws"

// ackConditionless: ACK's own configuration kinds (AdoptedResource,
// FieldExport) are in group services.k8s.aws, outside the suffix.
var ackConditionless []string

// ACKResourceGVRs lists the resources of the ACK CRDs among crds.
func ACKResourceGVRs(crds []*unstructured.Unstructured) []schema.GroupVersionResource {
	return storageGVRs(crds, ackGroupSuffix, ackConditionless)
}

// RunACKStandIn is a STAND-IN for the ACK controllers (QuickSight), which
// no test can run (no AWS here): it reports every resource of gvrs as ACK's
// runtime does once the AWS resource exists and matches its spec,
// ACK.ResourceSynced=True and Ready=True, and nothing else (no ARN, no
// status fields, no AWS call). Why: Argo CD's health check for
// _.services.k8s.aws is Progressing until Ready (argo-cd v3.6.1
// resource_customizations/_.services.k8s.aws/_/health.lua), and with the
// Application health check the root app's later waves wait for it.
func RunACKStandIn(ctx context.Context, dyn dynamic.Interface, gvrs []schema.GroupVersionResource, logf func(string, ...any)) <-chan struct{} {
	return runConditionStandIn(ctx, dyn, gvrs, "ACK controller stand-in", func(now string) []any {
		return []any{
			map[string]any{"type": "ACK.ResourceSynced", "status": "True", "reason": "", "message": "Resource synced successfully", "lastTransitionTime": now},
			map[string]any{"type": "Ready", "status": "True", "reason": "", "message": "Resource synced successfully", "lastTransitionTime": now},
		}
	}, logf)
}

// ALBIngressClass is the IngressClass the AWS Load Balancer Controller's
// chart installs (controller ingress.k8s.aws/alb).
const ALBIngressClass = "alb"

// RunLoadBalancerStandIn is a STAND-IN for the AWS Load Balancer
// Controller, which no test can run (no AWS here): it gives every Ingress
// of class alb the status the controller writes once the ALB of its group
// exists, a DNS name in status.loadBalancer.ingress (one per
// alb.ingress.kubernetes.io/group.name, as Ingresses of a group share one
// ALB), and nothing else: no load balancer, no target groups, no traffic.
// Why: Argo CD's Ingress health is Progressing until that status is set,
// and with the Application health check the root app's later waves wait
// for it. It runs until ctx ends; errors go to logf.
func RunLoadBalancerStandIn(ctx context.Context, cs kubernetes.Interface, region string, logf func(string, ...any)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			list, err := cs.NetworkingV1().Ingresses("").List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range list.Items {
					if err := markLoadBalanced(ctx, cs, &list.Items[i], region); err != nil && ctx.Err() == nil {
						logf("load balancer controller stand-in: %v", err)
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return done
}

// ALBHostname is the DNS name the stand-in gives the ALB of an Ingress:
// shaped as the controller's (k8s-<group>-<hash>.<region>.elb.amazonaws.com).
func ALBHostname(ing *networkingv1.Ingress, region string) string {
	group := ing.Annotations["alb.ingress.kubernetes.io/group.name"]
	if group == "" {
		group = ing.Namespace + "-" + ing.Name
	}
	return fmt.Sprintf("k8s-%s-twin.%s.elb.amazonaws.com", strings.ReplaceAll(group, ".", "-"), region)
}

func markLoadBalanced(ctx context.Context, cs kubernetes.Interface, ing *networkingv1.Ingress, region string) error {
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != ALBIngressClass || ing.DeletionTimestamp != nil {
		return nil
	}
	host := ALBHostname(ing, region)
	if lb := ing.Status.LoadBalancer.Ingress; len(lb) == 1 && lb[0].Hostname == host {
		return nil
	}
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{Hostname: host}}
	if _, err := cs.NetworkingV1().Ingresses(ing.Namespace).UpdateStatus(ctx, ing, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("Ingress %s/%s status: %w", ing.Namespace, ing.Name, err)
	}
	return nil
}
